import { describe, expect, it } from 'vitest'
import { progressBar } from './progress.js'

function stream(isTTY: boolean) {
  const written: string[] = []
  return { written, stream: { isTTY, columns: 60, write: (text: string) => written.push(text) } as never }
}

describe('progress bar', () => {
  it('draws on a terminal and ends its line', () => {
    const target = stream(true)
    const bar = progressBar('import', 4, { stream: target.stream, redrawMs: 0 })
    bar.advance()
    bar.advance(3)
    bar.done()
    bar.done()
    expect(target.written.at(-2)).toMatch(/^\rimport \[#+\] 4\/4 100%/)
    expect(target.written.at(-1)).toBe('\n')
    expect(target.written.filter((text) => text === '\n')).toHaveLength(1)
  })

  it('stays quiet when the output is not a terminal', () => {
    const target = stream(false)
    const bar = progressBar('import', 4, { stream: target.stream })
    bar.advance(4)
    bar.done()
    expect(target.written).toEqual([])
  })
})
