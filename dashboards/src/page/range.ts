/** A custom range's dates, checked in the page before any query is sent (one message, not one per panel). */

export interface RangeProblem {
  message: string
  /** The inputs to mark as invalid. */
  fields: ('from' | 'to')[]
}

const isCalendarDay = (text: string) =>
  /^\d{4}-\d{2}-\d{2}$/.test(text) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text)

/** What is wrong with `from` … `to`, inclusive, against the API's longest range; undefined when nothing is. */
export function rangeProblem(from: string, to: string, maxDays: number): RangeProblem | undefined {
  for (const [field, text, name] of [
    ['from', from, 'first'],
    ['to', to, 'last'],
  ] as const) {
    if (text === '') return { message: `Choose the range's ${name} day.`, fields: [field] }
    // Date.parse would also take "2026-02-30" (as March 2): a day that does not exist is refused.
    if (!isCalendarDay(text)) return { message: `"${text}" is not a date (YYYY-MM-DD).`, fields: [field] }
  }
  if (from > to)
    return { message: `The range ends (${to}) before it starts (${from}).`, fields: ['from', 'to'] }
  const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1
  if (days > maxDays)
    return {
      message: `The range is ${days} days: at most ${maxDays} can be shown at once.`,
      fields: ['from', 'to'],
    }
  return undefined
}
