/**
 * The agent the filter box means. Agent ids are what senders wrote, spaces and line breaks around
 * them included, and the collector keeps them so: the filter is by the exact id.
 */
export function agentFromBox(text: string, agents: readonly string[]): string {
  if (agents.includes(text)) return text
  // A text box drops line breaks from what it is given: a suggestion picked for "bot\n" reads "bot".
  const unbroken = agents.filter((agent) => /[\r\n]/.test(agent) && agent.replace(/[\r\n]/g, '') === text)
  if (unbroken.length === 1) return unbroken[0]!
  // Typed text: spaces around it are a slip, unless they make it one agent's id.
  const typed = text.trim()
  if (agents.includes(typed)) return typed
  const loose = agents.filter((agent) => agent.trim() === typed)
  return loose.length === 1 ? loose[0]! : typed
}
