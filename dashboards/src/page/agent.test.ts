import { describe, expect, it } from 'vitest'
import { agentFromBox } from './agent.js'

describe('the agent filter box', () => {
  const agents = [' padded-bot ', 'padded-bot', 'line-bot\n', ' lonely ', 'tab\tbot']

  it('keeps an exact id, spaces and all', () => {
    expect(agentFromBox(' padded-bot ', agents)).toBe(' padded-bot ')
    expect(agentFromBox('padded-bot', agents)).toBe('padded-bot')
  })

  it('finds the id with line breaks that a picked suggestion lost in the box', () => {
    expect(agentFromBox('line-bot', agents)).toBe('line-bot\n')
  })

  it('takes spaces typed around a name as a slip', () => {
    expect(agentFromBox('  padded-bot', agents)).toBe('padded-bot')
    // The only agent it can mean, though its id has spaces of its own.
    expect(agentFromBox('lonely', agents)).toBe(' lonely ')
    expect(agentFromBox('  nobody ', agents)).toBe('nobody')
  })

  it('reads an empty or blank box as every agent', () => {
    expect(agentFromBox('', agents)).toBe('')
    expect(agentFromBox('   ', agents)).toBe('')
  })
})
