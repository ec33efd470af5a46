import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** A refusal that is only about HTTP itself (e.g. 415, 404); turned into a response in one place. */
export class HttpError extends Error {
  override readonly name = 'HttpError'
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly code = 'bad_request',
  ) {
    super(message)
  }
}
