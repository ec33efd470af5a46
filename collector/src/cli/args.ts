/**
 * Command-line parsing for `daa`. The configuration flags come from SETTINGS in config.ts, so a
 * new setting is a flag without touching this file.
 */
import { parseArgs } from 'node:util'
import { type CollectorConfig, flagName, SETTINGS } from '../config.js'

/** Flags of the commands themselves, not settings. */
const COMMAND_OPTIONS = {
  project: { type: 'string' },
  name: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  tz: { type: 'string' },
  agent: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

type OptionSpec = { type: 'string' | 'boolean'; short?: string }

function settingOptions(): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {}
  for (const [key, doc] of Object.entries(SETTINGS)) {
    if (!doc.flag) continue
    // A yes/no setting is a boolean flag with a --no- form; everything else takes a value.
    options[flagName(key).slice(2)] = { type: key === 'demo' ? 'boolean' : 'string' }
  }
  return options
}

export interface ParsedCommandLine {
  positionals: string[]
  /** Setting values given as flags, keyed like CollectorConfig. */
  settings: Partial<Record<keyof CollectorConfig, unknown>>
  command: {
    [K in keyof typeof COMMAND_OPTIONS]?: (typeof COMMAND_OPTIONS)[K]['type'] extends 'boolean'
      ? boolean
      : string
  }
}

/**
 * `--grpc-port -1` is the documented way to turn gRPC off, but node's parser reads `-1` as an
 * option. A value that is a negative number is joined to its flag (`--grpc-port=-1`) first.
 */
function joinNegativeValues(argv: string[], valueFlags: Set<string>): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const next = argv[i + 1]
    if (valueFlags.has(arg) && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const options = { ...settingOptions(), ...COMMAND_OPTIONS }
  const valueFlags = new Set(
    Object.entries(options)
      .filter(([, spec]) => spec.type === 'string')
      .map(([name]) => `--${name}`),
  )
  const { values, positionals } = parseArgs({
    args: joinNegativeValues(argv, valueFlags),
    options,
    allowPositionals: true,
    allowNegative: true,
  })
  const settings: Record<string, unknown> = {}
  const command: Record<string, unknown> = {}
  for (const [flag, value] of Object.entries(values)) {
    if (flag in COMMAND_OPTIONS) command[flag] = value
    else settings[flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())] = value
  }
  return { positionals, settings, command: command as ParsedCommandLine['command'] }
}
