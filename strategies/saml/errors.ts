/**
 * Why a SAML response was refused. Every refusal is an `AccessDeniedError`, so the strategy ends in
 * `fail()` and the broker shows the message on an error page with no token issued. `reason` is a
 * stable code for logs and tests; the message says what was wrong without echoing secrets.
 */
import { AccessDeniedError } from '../../lib/errors.js';

export type SamlRefusal =
  | 'too_large'
  | 'malformed'
  | 'unsigned'
  | 'untrusted_signature'
  | 'altered'
  | 'wrapping'
  | 'status'
  | 'issuer'
  | 'in_response_to'
  | 'no_pending_request'
  | 'destination'
  | 'recipient'
  | 'audience'
  | 'not_yet_valid'
  | 'expired'
  | 'subject'
  | 'attribute'
  | 'encrypted'
  | 'groups';

export class SamlRefusedError extends AccessDeniedError {
  readonly reason: SamlRefusal;

  /** Status 400 (a response that must not be trusted) unless told otherwise (403: the user is refused). */
  constructor(reason: SamlRefusal, message: string, status = 400) {
    super(message, status);
    this.reason = reason;
  }
}
