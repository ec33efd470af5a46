import type { IncomingMessage } from 'node:http'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { ExportRejectedError } from '../otlp/errors.js'
import { HttpError } from './http-error.js'

const gunzipAsync = promisify(gunzip)

/**
 * Reads a request body with a hard cap on bytes, before and after decompression. The compressed
 * stream is cut off as soon as it passes the cap, and gunzip stops as soon as its output does, so
 * neither a huge upload nor a gzip bomb is ever held in memory whole.
 */
export async function readBoundedBody(
  request: Request,
  contentEncoding: string | undefined,
  maxBytes: number,
  incoming?: IncomingMessage,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) throw tooLarge(maxBytes)
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== '') {
    throw new HttpError(
      415,
      `Unsupported Content-Encoding "${encoding}": send gzip or none.`,
      'unsupported_media_type',
    )
  }
  const raw =
    incoming && !incoming.readableDidRead
      ? await readCappedIncoming(incoming, maxBytes)
      : await readCapped(request, maxBytes)
  if (encoding !== 'gzip') return raw
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxBytes })
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes)
    throw new ExportRejectedError('invalid', 'The body is not valid gzip.', { cause: error })
  }
}

async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel()
      throw tooLarge(maxBytes)
    }
    chunks.push(value)
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)
}

/**
 * The same, from Node's own request stream (under @hono/node-server): no web Request, ReadableStream
 * or reader is built around it, which cost about as much CPU per request as decoding 30 spans.
 * Past the cap it stops reading, and the server discards the rest after answering.
 */
function readCappedIncoming(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    const cleanup = () => {
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onError)
      incoming.off('aborted', onAborted)
    }
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength
      if (total > maxBytes) {
        cleanup()
        incoming.pause()
        reject(tooLarge(maxBytes))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total))
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    const onAborted = () => onError(new Error('The client closed the connection before the body was read.'))
    incoming.on('data', onData)
    incoming.once('end', onEnd)
    incoming.once('error', onError)
    incoming.once('aborted', onAborted)
  })
}

function tooLarge(maxBytes: number): ExportRejectedError {
  return new ExportRejectedError(
    'too_large',
    `The request exceeds the ${maxBytes}-byte limit (after decompression).`,
  )
}
