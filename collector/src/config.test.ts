import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  configSchema,
  loadConfig,
  SETTINGS,
  SETTINGS_TABLE_MARKERS,
  settingsTable,
} from './config.js'

describe('configuration', () => {
  it('takes an argument over the environment over the default', () => {
    expect(loadConfig({}, {}).port).toBe(4318)
    expect(loadConfig({}, { DAA_PORT: '5000' }).port).toBe(5000)
    expect(loadConfig({ port: '6000' }, { DAA_PORT: '5000' }).port).toBe(6000)
    expect(loadConfig({}, {}).clickhouseUrl).toBeUndefined()
    expect(loadConfig({}, { CLICKHOUSE_URL: 'http://ch:8123' }).clickhouseUrl).toBe('http://ch:8123')
  })

  it('names every bad value and where it came from', () => {
    const attempt = () =>
      loadConfig(
        { port: 'eighty' },
        { CLICKHOUSE_URL: 'ftp://nope', CLICKHOUSE_DATABASE: 'drop table;', DAA_DEMO: 'yes' },
      )
    expect(attempt).toThrow(ConfigError)
    expect(attempt).toThrow(/port \(DAA_PORT\)/)
    expect(attempt).toThrow(/clickhouseUrl \(CLICKHOUSE_URL\): must be an http:\/\/ or https:\/\/ URL/)
    expect(attempt).toThrow(/clickhouseDatabase \(CLICKHOUSE_DATABASE\): must be a plain identifier/)
    expect(attempt).toThrow(/demo \(DAA_DEMO\): must be true, false, 1 or 0/)
  })

  it('asks for the node list of a cluster without Keeper', () => {
    expect(() =>
      loadConfig(
        {},
        { CLICKHOUSE_URL: 'http://a:8123', CLICKHOUSE_CLUSTER: 'c', CLICKHOUSE_CLUSTER_REPLICATED: 'false' },
      ),
    ).toThrow(/CLICKHOUSE_CLUSTER_NODES/)
    const config = loadConfig(
      {},
      {
        CLICKHOUSE_URL: 'http://a:8123',
        CLICKHOUSE_CLUSTER: 'c',
        CLICKHOUSE_CLUSTER_REPLICATED: 'false',
        CLICKHOUSE_CLUSTER_NODES: 'http://a:8123, http://b:8123',
      },
    )
    expect(config.clickhouseClusterNodes).toEqual(['http://a:8123', 'http://b:8123'])
    expect(config.clickhouseClusterReplicated).toBe(false)
  })
})

describe('configuration documentation', () => {
  it('README.md shows the table generated from config.ts (run `npm run docs` after changing a setting)', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
    const [start, end] = SETTINGS_TABLE_MARKERS
    const generated = readme.slice(readme.indexOf(start) + start.length, readme.indexOf(end)).trim()
    expect(generated).toBe(settingsTable())
  })

  it('documents every setting the schema accepts, with its environment variable', () => {
    expect(Object.keys(SETTINGS).sort()).toEqual(Object.keys(configSchema.shape).sort())
    for (const doc of Object.values(SETTINGS)) expect(doc.help.length).toBeGreaterThan(5)
  })
})
