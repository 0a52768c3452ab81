// The SDK (src/sdk) imports the contract's error codes from here; the server imports src/errors.ts.
export { ERROR_CODES, isErrorCode, type ErrorCode } from './errors.js';
