import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { parseCommandLine } from './args.js'

describe('daa command line', () => {
  it('parses every documented flag form', () => {
    const parsed = parseCommandLine([
      'collector',
      '--grpc-port',
      '-1',
      '--port=4318',
      '--host',
      '0.0.0.0',
      '--retention-days=0',
      '--no-demo',
    ])
    expect(parsed.positionals).toEqual(['collector'])
    const config = loadConfig(parsed.settings, {})
    expect(config).toMatchObject({ grpcPort: -1, port: 4318, host: '0.0.0.0', retentionDays: 0, demo: false })
    expect(loadConfig(parseCommandLine(['start', '--demo']).settings, {}).demo).toBe(true)
    expect(loadConfig(parseCommandLine(['start']).settings, { DAA_DEMO: '0' }).demo).toBe(false)
  })

  it('keeps command flags apart from settings', () => {
    const parsed = parseCommandLine([
      'query',
      'daa',
      '--project',
      'p',
      '--from=2026-11-01',
      '--to',
      '2026-11-02',
    ])
    expect(parsed.command).toEqual({ project: 'p', from: '2026-11-01', to: '2026-11-02' })
    expect(parsed.settings).toEqual({})
  })

  it('refuses an unknown flag', () => {
    expect(() => parseCommandLine(['collector', '--prot', '1'])).toThrow(/Unknown option '--prot'/)
  })
})
