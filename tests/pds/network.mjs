// A real PLC directory and PDS (@atproto/dev-env) on loopback, driven by the `real_pds` test.
//
// Run with Node >= 22 and ATPROTO_DEV_ENV_DIR naming the folder `scripts/install-pds` installed into. It
// prints one JSON line when ready ({"plc", "pds", "plcMultikey"}: see `multikeyPlc` below), then takes one JSON command per line on stdin and answers
// each with one JSON line on stdout: {"op":"scenario","wav":PATH} writes the test's records through the
// PDS's own XRPC API and answers with what it wrote; {"op":"more","tag":TEXT} writes a few more (after
// a scenario: a track created then updated, a comment created then deleted, a like last);
// {"op":"takedown","did":DID,"applied":BOOL} takes an account down or restores it through the admin API. At end of input it shuts the network down and exits,
// so it never outlives the test that started it.

import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import readline from 'node:readline'
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

// dev-env binds every interface; these tests only ever listen on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' }
  }
  return listen.apply(this, args)
}

const dir = process.env.ATPROTO_DEV_ENV_DIR
if (!dir) throw new Error('ATPROTO_DEV_ENV_DIR is not set (scripts/install-pds prints it)')
const load = (pkg, file) => import(pathToFileURL(path.join(dir, 'node_modules', pkg, file)).href)
const { TestNetworkNoAppView } = await load('@atproto/dev-env', 'dist/index.js')
const { AtpAgent } = await load('@atproto/api', 'dist/index.js')

const network = await TestNetworkNoAppView.create({ pds: { blobUploadLimit: 20 * 1024 * 1024 } })
const say = (v) => process.stdout.write(JSON.stringify(v) + '\n')

// The PLC directory as plc.directory serves DID documents today: the signing key as a `Multikey`
// (multicodec-prefixed, compressed). This dev-env's PLC still writes the legacy
// `EcdsaSecp256k1VerificationKey2019` form with an uncompressed key, which the real Jetstream's verifier
// cannot read ("unknown multicodec prefix [0x04, ...]"), so it would drop every live commit. The
// document is built from the directory's own `/<did>/data`; every other request passes through.
function multikeyPlc(plc) {
  const server = http.createServer(async (req, res) => {
    const did = decodeURIComponent(req.url.slice(1))
    try {
      if (req.method === 'GET' && /^did:plc:[a-z2-7]{24}$/.test(did)) {
        const upstream = await fetch(`${plc}/${did}/data`)
        if (!upstream.ok) {
          res.writeHead(upstream.status, { 'content-type': 'application/json' })
          return res.end(await upstream.text())
        }
        const data = await upstream.json()
        const doc = {
          '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
          id: did,
          alsoKnownAs: data.alsoKnownAs,
          verificationMethod: Object.entries(data.verificationMethods).map(([id, key]) => ({
            id: `${did}#${id}`, type: 'Multikey', controller: did, publicKeyMultibase: key.replace(/^did:key:/, ''),
          })),
          service: Object.entries(data.services).map(([id, s]) => ({
            id: `#${id}`, type: s.type, serviceEndpoint: s.endpoint,
          })),
        }
        res.writeHead(200, { 'content-type': 'application/did+ld+json' })
        return res.end(JSON.stringify(doc))
      }
      const upstream = await fetch(`${plc}${req.url}`, { method: req.method })
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
      res.end(Buffer.from(await upstream.arrayBuffer()))
    } catch (e) {
      res.writeHead(502)
      res.end(String(e))
    }
  })
  return new Promise((resolve) => server.listen(0, () => resolve(server)))
}
const modern = await multikeyPlc(network.plc.url)
say({ plc: network.plc.url, pds: network.pds.url, plcMultikey: `http://localhost:${modern.address().port}` })

async function account(name) {
  const agent = new AtpAgent({ service: network.pds.url })
  await agent.createAccount({ handle: `${name}.test`, email: `${name}@example.test`, password: 'hunter2' })
  return agent
}

async function create(agent, collection, record, rkey) {
  const res = await agent.com.atproto.repo.createRecord({
    repo: agent.session.did, collection, record: { $type: collection, ...record }, rkey,
  })
  return { uri: res.data.uri, cid: res.data.cid }
}

async function put(agent, uri, record) {
  const [collection, rkey] = uri.split('/').slice(3)
  const res = await agent.com.atproto.repo.putRecord({
    repo: agent.session.did, collection, rkey, record: { $type: collection, ...record },
  })
  return { uri: res.data.uri, cid: res.data.cid }
}

async function remove(agent, uri) {
  const [collection, rkey] = uri.split('/').slice(3)
  await agent.com.atproto.repo.deleteRecord({ repo: agent.session.did, collection, rkey })
}

// Two accounts: an artist with a profile, two tracks (one with a real audio blob) and a deleted third; a
// listener who likes, unlikes, comments (then edits), keeps a playlist with a missing item, and scrobbles.
async function scenario({ wav }) {
  const artist = await account('artist')
  const fan = await account('fan')
  Object.assign(accounts, { artist, fan })
  // Claimed times an hour back, as records written earlier: a node sorts by the claimed time only when it
  // is not later than when the node received the record, and both nodes must sort alike.
  const start = Date.now() - 3600 * 1000
  const at = (s) => new Date(start + s * 1000).toISOString()

  const bytes = await readFile(wav)
  const blob = (await artist.com.atproto.repo.uploadBlob(bytes, { encoding: 'audio/wav' })).data.blob
  await create(artist, 'fm.plyr.actor.profile', { bio: 'field recordings', createdAt: at(0) }, 'self')
  const song = await create(artist, 'fm.plyr.track', {
    title: 'First Light', artist: 'The Artist', fileType: 'wav', album: 'Dawn', duration: 2,
    audioBlob: blob, createdAt: at(1),
  })
  const other = await create(artist, 'fm.plyr.track', {
    title: 'Second Wind', artist: 'The Artist', fileType: 'mp3',
    audioUrl: 'https://audio.example.test/second.mp3', createdAt: at(2),
  })
  const gone = await create(artist, 'fm.plyr.track', {
    title: 'Never Mind', artist: 'The Artist', fileType: 'mp3', createdAt: at(3),
  })
  await remove(artist, gone.uri)
  const renamed = await put(artist, song.uri, {
    title: 'First Light (remaster)', artist: 'The Artist', fileType: 'wav', album: 'Dawn', duration: 2,
    audioBlob: blob, createdAt: at(1), description: 'now louder',
  })

  await create(fan, 'fm.plyr.like', { subject: renamed, createdAt: at(4) })
  const unliked = await create(fan, 'fm.plyr.like', { subject: other, createdAt: at(5) })
  await remove(fan, unliked.uri)
  const comment = await create(fan, 'fm.plyr.comment', {
    subject: renamed, text: 'lovely', timestampMs: 1200, createdAt: at(6),
  })
  await put(fan, comment.uri, {
    subject: renamed, text: 'lovely intro', timestampMs: 1200, createdAt: at(6), updatedAt: at(7),
  })
  const missing = { uri: `at://${artist.session.did}/fm.plyr.track/3zzzzzzzzzzzz`, cid: other.cid }
  const list = await create(fan, 'fm.plyr.list', {
    name: 'mornings', listType: 'playlist', createdAt: at(8),
    items: [{ subject: renamed }, { subject: missing }, { subject: other }],
  })
  await create(fan, 'fm.teal.feed.play', {
    trackName: 'First Light (remaster)', artists: [{ artistName: 'The Artist' }],
    musicServiceUri: 'https://plyr.fm', submissionClientAgent: 'reprise-test/1.0',
    playedTime: at(9), duration: 2, originUri: renamed.uri,
  })
  await create(fan, 'fm.teal.actor.status', {
    time: at(10), expiry: at(7200),
    item: { trackName: 'First Light (remaster)', artists: [{ artistName: 'The Artist' }], playedTime: at(10) },
  }, 'self')

  return {
    artist: artist.session.did, fan: fan.session.did, blob: blob.ref.toString(),
    tracks: [renamed.uri, other.uri], deleted: gone.uri, list: list.uri, comment: comment.uri,
  }
}

// The scenario's accounts, for later writes.
const accounts = {}

async function more({ tag }) {
  const { artist, fan } = accounts
  const at = new Date(Date.now() - 1800 * 1000).toISOString()
  const track = await create(artist, 'fm.plyr.track', {
    title: `Encore ${tag}`, artist: 'The Artist', fileType: 'mp3', createdAt: at,
  })
  const updated = await put(artist, track.uri, {
    title: `Encore ${tag}`, artist: 'The Artist', fileType: 'mp3', createdAt: at, description: 'live',
  })
  const comment = await create(fan, 'fm.plyr.comment', { subject: updated, text: 'oops', timestampMs: 0, createdAt: at })
  await remove(fan, comment.uri)
  const like = await create(fan, 'fm.plyr.like', { subject: updated, createdAt: at })
  return { track: track.uri, like: like.uri }
}

// A moderator's takedown of an account (or its reversal), through the PDS's admin API: the PDS then
// sequences an #account event on its firehose.
async function takedown({ did, applied }) {
  const admin = network.pds.getAgent()
  await admin.com.atproto.admin.updateSubjectStatus(
    { subject: { $type: 'com.atproto.admin.defs#repoRef', did }, takedown: { applied, ref: 'reprise-test' } },
    { headers: network.pds.adminAuthHeaders(), encoding: 'application/json' },
  )
  return { did, applied }
}

const ops = { scenario, more, takedown }
for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line)
  try {
    say({ ok: await ops[cmd.op](cmd) })
  } catch (e) {
    say({ error: String(e?.stack ?? e) })
  }
}
modern.close()
await network.close()
process.exit(0)
