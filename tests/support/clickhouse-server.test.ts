import { existsSync } from 'node:fs'
import { ClickHouseLogLevel, createClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningClickHouse, startClickHouseServer } from './clickhouse-server.js'

/** True while a process with this pid exists (signal 0 only checks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('startClickHouseServer', () => {
  let server: RunningClickHouse

  beforeAll(async () => {
    const started = performance.now()
    server = await startClickHouseServer()
    console.log(`ClickHouse server started in ${Math.round(performance.now() - started)} ms at ${server.url}`)
  })
  afterAll(() => server?.stop())

  it('answers /ping', async () => {
    const response = await fetch(`${server.url}/ping`)
    expect(await response.text()).toBe('Ok.\n')
    expect(server.url).toBe(`http://127.0.0.1:${server.httpPort}`)
    expect(server.tcpPort).toBeUndefined()
  })

  it('serves @clickhouse/client: create, JSONEachRow insert, query_params', async () => {
    const client = createClient({ url: server.url })
    try {
      await client.command({
        query: 'CREATE TABLE events (id UInt32, name String) ENGINE = MergeTree ORDER BY id',
      })
      await client.insert({
        table: 'events',
        values: [
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
          { id: 3, name: 'c' },
        ],
        format: 'JSONEachRow',
      })
      const result = await client.query({
        query: 'SELECT id, name FROM events WHERE id >= {min:UInt32} ORDER BY id',
        query_params: { min: 2 },
        format: 'JSONEachRow',
      })
      expect(await result.json()).toEqual([
        { id: 2, name: 'b' },
        { id: 3, name: 'c' },
      ])
    } finally {
      await client.close()
    }
  })
})

describe('authentication from configXml', () => {
  const configXml = `<clickhouse>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <alice><password>secret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></alice>
  </users>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
</clickhouse>
`
  let server: RunningClickHouse

  beforeAll(async () => {
    server = await startClickHouseServer({ configXml })
  })
  afterAll(() => server?.stop())

  it('accepts the right password and rejects a wrong one', async () => {
    const right = createClient({ url: server.url, username: 'alice', password: 'secret' })
    // The client logs failed requests itself; the rejection below is what we check.
    const wrong = createClient({
      url: server.url,
      username: 'alice',
      password: 'nope',
      log: { level: ClickHouseLogLevel.OFF },
    })
    try {
      const result = await right.query({ query: 'SELECT currentUser() AS user', format: 'JSONEachRow' })
      expect(await result.json()).toEqual([{ user: 'alice' }])
      await expect(wrong.query({ query: 'SELECT 1' })).rejects.toThrow(/Authentication failed/)
    } finally {
      await Promise.all([right.close(), wrong.close()])
    }
  })
})

describe('stop()', () => {
  it('kills the process and removes the data directory', async () => {
    const server = await startClickHouseServer({ tcp: true })
    expect(server.tcpPort).toBeGreaterThan(0)
    const pid = server.pid
    expect(isAlive(pid)).toBe(true)
    expect(existsSync(server.dataDir)).toBe(true)

    await server.stop()
    expect(isAlive(pid)).toBe(false)
    expect(existsSync(server.dataDir)).toBe(false)
    await server.stop() // idempotent
  })

  it('reports the server output when it cannot start', async () => {
    await expect(startClickHouseServer({ configXml: '<clickhouse><broken' })).rejects.toThrow(/exited early/)
  })
})
