import { describe, expect, it } from 'vitest'
import { chunkText, encodedLines, encodeRows } from './store.js'

describe('encodeRows', () => {
  it('keeps one copy of a large map shared by many rows, and counts it once', () => {
    const resource = { big: 'x'.repeat(50_000), 'service.name': 'svc' }
    const rows = Array.from({ length: 1000 }, (_, index) => ({
      id: index,
      resource,
      own: { index: String(index) },
    }))
    const encoded = encodeRows(rows, ['id', 'resource', 'own'], [1_764_000_000_123])
    // What ClickHouse receives: the same lines as encoding each row on its own.
    const expected = rows.map((row) => JSON.stringify([row.id, row.resource, row.own, 1_764_000_000_123]))
    expect(encodedLines(encoded)).toEqual(expected)
    expect(encoded.chunks.map(chunkText).join('')).toBe(`${expected.join('\n')}\n`)
    expect(encoded.count).toBe(1000)
    // Memory: the 50 KB map once, not 1000 times (50 MB).
    expect(encoded.bytes).toBeLessThan(200_000)
    const shared = new Set(
      encoded.chunks.flatMap((chunk) => (typeof chunk === 'string' ? [] : [chunk.shared])),
    )
    expect(shared.size).toBe(1)
  })

  it('joins rows without a large shared value into one flat chunk', () => {
    const small = { 'service.name': 'svc' }
    const encoded = encodeRows(
      [
        { id: 1, resource: small },
        { id: 2, resource: small },
      ],
      ['id', 'resource'],
    )
    expect(encoded.chunks).toEqual(['[1,{"service.name":"svc"}]\n[2,{"service.name":"svc"}]\n'])
    expect(encoded.bytes).toBe(chunkText(encoded.chunks[0]!).length)
  })

  it('reads rows of one shape by their values, and any other row by name, to the same lines', () => {
    const rows = [
      { id: 1, name: 'a', attributes: { k: 'v' } },
      { id: 2, name: 'b', attributes: { k: 'w' } },
    ]
    const columns = ['id', 'name', 'attributes']
    const expected = encodedLines(encodeRows(rows, columns, [7]))
    expect(encodedLines(encodeRows(rows, columns, [7], { sameShape: true }))).toEqual(expected)
    // Keys in another order than the columns: read by name whatever the caller said.
    const reordered = rows.map(({ id, name, attributes }) => ({ name, id, attributes }))
    expect(encodedLines(encodeRows(reordered, columns, [7], { sameShape: true }))).toEqual(expected)
  })
})
