//! A Jetstream-compatible WebSocket server for tests: both wires, cursor replay, zstd, injected faults.
//!
//! A [`History`] is the instance's event store: every pushed v1 frame gets the next `seq` and a
//! `time_us` from the server's own monotonic clock (as real Jetstream stamps receipt time). Several
//! [`JetstreamServer`]s can serve one history (the same events from different hosts). A server speaks
//! v1 on `/subscribe` (`wantedCollections`, `wantedDids`, `cursor` in µs, `compress=true` with the v1
//! dictionary, `requireHello` + `options_update`) and v2 on `/xrpc/network.bsky.jetstream.subscribeEvents`
//! (`collections`, `dids`, inclusive `seq` cursors or µs timestamps, message framing, error frames,
//! `CursorTooOld` before the upgrade). [`Faults`] inject what real hosts do wrong.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;

use crate::tasks::Tasks;

/// The v2 subscription path.
pub const V2_PATH: &str = "/xrpc/network.bsky.jetstream.subscribeEvents";
const NS: &str = "network.bsky.jetstream.subscribeEvents#";
/// The v1 dictionary the server compresses with (the client's copy, so both ends use the same bytes).
static V1_DICTIONARY: &[u8] = include_bytes!("../../ingest/src/live/jetstream-v1-zstd.dict");

/// One stored event.
#[derive(Debug)]
struct Entry {
    time_us: i64,
    did: String,
    /// `Some` for commits.
    collection: Option<String>,
    v1: String,
    v2: String,
    v1_zstd: OnceLock<Vec<u8>>,
    v2_zstd: OnceLock<Vec<u8>>,
    /// Sent as it is on either wire instead of the frame (broken frames, raw WebSocket frames).
    raw: Option<Message>,
}

/// The events an instance can replay, shared by every server that serves it.
#[derive(Debug)]
pub struct History {
    entries: Mutex<Vec<Arc<Entry>>>,
    len: watch::Sender<usize>,
    /// A synthetic instance clock (next time_us, step), instead of the wall clock.
    clock: Mutex<Option<(i64, i64)>>,
}

impl History {
    pub fn new() -> Arc<Self> {
        Arc::new(History {
            entries: Mutex::new(Vec::new()),
            len: watch::Sender::new(0),
            clock: Mutex::new(None),
        })
    }

    /// A history whose instance clock starts at `start_us` and advances `step_us` per event, so tests
    /// control how many events a time-based rewind covers.
    pub fn with_clock(start_us: i64, step_us: i64) -> Arc<Self> {
        let h = Self::new();
        *h.clock.lock().unwrap() = Some((start_us, step_us));
        h
    }

    /// Appends a v1 frame, stamping `time_us` with the instance clock; returns its seq.
    pub fn push(&self, frame: &str) -> i64 {
        self.push_inner(frame, true)
    }

    /// Appends a v1 frame byte for byte, keeping its own `time_us`.
    pub fn push_verbatim(&self, frame: &str) -> i64 {
        self.push_inner(frame, false)
    }

    fn push_inner(&self, frame: &str, stamp: bool) -> i64 {
        let v: Value = serde_json::from_str(frame).expect("history frames are JSON");
        let mut entries = self.entries.lock().unwrap();
        let seq = entries.len() as i64 + 1;
        let (time_us, v1) = if stamp {
            let t = self.next_time(&entries);
            (t, with_time_us(frame, t))
        } else {
            (v["time_us"].as_i64().unwrap_or(0), frame.to_owned())
        };
        let entry = Entry {
            time_us,
            did: v["did"].as_str().unwrap_or_default().to_owned(),
            collection: v["commit"]["collection"].as_str().map(str::to_owned),
            v2: to_v2(&v, seq, time_us),
            v1,
            v1_zstd: OnceLock::new(),
            v2_zstd: OnceLock::new(),
            raw: None,
        };
        entries.push(Arc::new(entry));
        self.len.send_replace(entries.len());
        seq
    }

    /// Appends a message sent as it is on either wire (an oversized or non-UTF-8 text frame, a frame
    /// with reserved bits): it takes the next time on the instance clock and passes every filter.
    pub fn push_message(&self, msg: Message) -> i64 {
        let mut entries = self.entries.lock().unwrap();
        let seq = entries.len() as i64 + 1;
        let entry = Entry {
            time_us: self.next_time(&entries),
            did: String::new(),
            collection: None,
            v1: String::new(),
            v2: String::new(),
            v1_zstd: OnceLock::new(),
            v2_zstd: OnceLock::new(),
            raw: Some(msg),
        };
        entries.push(Arc::new(entry));
        self.len.send_replace(entries.len());
        seq
    }

    /// The instance clock's next time, after every stored event's.
    fn next_time(&self, entries: &[Arc<Entry>]) -> i64 {
        let last = entries.last().map(|e| e.time_us).unwrap_or(0);
        let t = match self.clock.lock().unwrap().as_mut() {
            Some((next, step)) => {
                let t = *next;
                *next += *step;
                t
            }
            None => now_us(),
        };
        t.max(last + 1)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The v1 frames as served (with their stamped `time_us`), in seq order.
    pub fn v1_frames(&self) -> Vec<String> {
        self.entries.lock().unwrap().iter().map(|e| e.v1.clone()).collect()
    }

    /// Compresses every v1 frame now (as Jetstream does once per event), so serving costs no compression.
    pub fn precompress(&self) {
        for e in self.entries.lock().unwrap().iter() {
            e.v1_zstd.get_or_init(|| compressor().lock().unwrap().compress(e.v1.as_bytes()).expect("zstd"));
        }
    }

    /// Bytes held for the stored frames (both wires and the compressed form).
    pub fn bytes(&self) -> usize {
        let entries = self.entries.lock().unwrap();
        entries.iter().map(|e| e.v1.len() + e.v2.len() + e.v1_zstd.get().map_or(0, Vec::len)).sum()
    }

    /// The time_us of the event with `seq`.
    pub fn time_of(&self, seq: i64) -> i64 {
        self.entries.lock().unwrap()[(seq - 1) as usize].time_us
    }

    fn from(&self, pos: usize) -> Vec<Arc<Entry>> {
        let entries = self.entries.lock().unwrap();
        entries.get(pos..).map(|s| s.to_vec()).unwrap_or_default()
    }

    fn position(&self, pred: impl Fn(&Entry) -> bool) -> usize {
        let entries = self.entries.lock().unwrap();
        entries.iter().position(|e| pred(e)).unwrap_or(entries.len())
    }
}

/// What the server does wrong. Counts are per connection; "once" faults hit the next connection only.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Drop the TCP connection (no close frame) after this many frames on each connection.
    pub drop_every: Option<usize>,
    /// Send every Nth frame twice.
    pub duplicate_every: Option<usize>,
    /// Deliver frames in chunks of this many, each full chunk reversed.
    pub reorder_window: Option<usize>,
    /// Once: after this many frames, stop sending and stop reading (pings go unanswered).
    pub stall_after: Option<usize>,
    /// Never send commits of this collection; everything else flows.
    pub blind_collection: Option<String>,
    /// Once: after this many frames, send this error frame (v2) and close.
    pub error_after: Option<(usize, String)>,
    /// v2: a `seq` cursor below this is refused with `CursorTooOld`; nothing below it is replayed.
    pub floor_seq: Option<i64>,
}

#[derive(Debug)]
struct State {
    history: Arc<History>,
    faults: Mutex<Faults>,
    connections: watch::Sender<usize>,
    options_updates: watch::Sender<usize>,
    queries: Mutex<Vec<String>>,
    kill: watch::Sender<u64>,
    tasks: Tasks,
}

impl AsRef<Tasks> for State {
    fn as_ref(&self) -> &Tasks {
        &self.tasks
    }
}

/// A running test server on 127.0.0.1. Dropping it stops it and drops every connection.
#[derive(Debug)]
pub struct JetstreamServer {
    addr: SocketAddr,
    state: Arc<State>,
}

impl JetstreamServer {
    /// Starts a server on 127.0.0.1:0 serving `history` with `faults`.
    pub async fn start(history: Arc<History>, faults: Faults) -> Self {
        Self::start_on("127.0.0.1:0", history, faults).await
    }

    /// Starts a server on a given address (to bring a host back on the port it had).
    pub async fn start_on(addr: &str, history: Arc<History>, faults: Faults) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the test server");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            history,
            faults: Mutex::new(faults),
            connections: watch::Sender::new(0),
            options_updates: watch::Sender::new(0),
            queries: Mutex::new(Vec::new()),
            kill: watch::Sender::new(0),
            tasks: Tasks::default(),
        });
        Tasks::accept(&state, listener, serve);
        JetstreamServer { addr, state }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn v1_url(&self) -> String {
        format!("ws://{}/subscribe", self.addr)
    }

    pub fn v2_url(&self) -> String {
        format!("ws://{}{V2_PATH}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    /// Subscriptions accepted so far.
    pub fn connections(&self) -> usize {
        *self.state.connections.borrow()
    }

    /// Waits until at least `n` subscriptions have been accepted (their start position is fixed by then).
    pub async fn wait_connections(&self, n: usize) {
        let mut rx = self.state.connections.subscribe();
        rx.wait_for(|c| *c >= n).await.expect("server alive");
    }

    /// Waits until at least `n` v1 `options_update` messages have been applied (a hello counts).
    pub async fn wait_options_updates(&self, n: usize) {
        let mut rx = self.state.options_updates.subscribe();
        rx.wait_for(|c| *c >= n).await.expect("server alive");
    }

    /// The request paths and queries of every handshake, in order.
    pub fn queries(&self) -> Vec<String> {
        self.state.queries.lock().unwrap().clone()
    }

    /// Drops every open connection now (the listener stays up).
    pub fn disconnect_all(&self) {
        self.state.kill.send_modify(|k| *k += 1);
    }

    /// Stops listening and drops every connection: the host is gone.
    pub fn shutdown(&self) {
        self.state.tasks.abort_all();
    }
}

impl Drop for JetstreamServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A subscription's parameters, from the query string and later `options_update`s.
#[derive(Debug, Default)]
struct Params {
    v2: bool,
    collections: Vec<String>,
    dids: Vec<String>,
    cursor: Option<i64>,
    compress: bool,
    require_hello: bool,
    /// v2 `zstdDictionary=<id>`: binary frames compressed with the served dictionary.
    zstd_dictionary: Option<u32>,
}

impl Params {
    fn wants(&self, e: &Entry) -> bool {
        let did_ok = self.dids.is_empty() || self.dids.contains(&e.did);
        let collection_ok = match &e.collection {
            None => true, // identity and account events ignore the collection filter
            Some(c) => {
                self.collections.is_empty()
                    || self.collections.iter().any(|w| match w.strip_suffix('*') {
                        Some(prefix) => c.starts_with(prefix),
                        None => w == c,
                    })
            }
        };
        did_ok && collection_ok
    }
}

fn parse_request(uri: &http::Uri) -> Result<Params, (u16, String)> {
    let mut p = Params { v2: uri.path() == V2_PATH, ..Default::default() };
    if !p.v2 && uri.path() != "/subscribe" {
        return Err((404, json!({"error": "NotFound"}).to_string()));
    }
    for pair in uri.query().unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |m: &str| (400, json!({"error": "InvalidRequest", "message": m}).to_string());
        match (p.v2, k) {
            (false, "wantedCollections") | (true, "collections") => p.collections.push(v.to_owned()),
            (false, "wantedDids") | (true, "dids") => p.dids.push(v.to_owned()),
            (_, "cursor") => p.cursor = Some(v.parse().map_err(|_| bad("cursor is not an integer"))?),
            (false, "compress") => p.compress = v == "true",
            (false, "requireHello") => p.require_hello = v == "true",
            (true, "zstdDictionary") => {
                let id: u32 = v.parse().map_err(|_| bad("zstdDictionary is not an integer"))?;
                if id != DICTIONARY_ID {
                    let body = json!({"error": "UnknownZstdDictionary", "message": "unknown dictionary", "id": DICTIONARY_ID});
                    return Err((400, body.to_string()));
                }
                p.zstd_dictionary = Some(id);
            }
            (true, "wantedCollections" | "wantedDids") => return Err(bad(&format!("{k} is a v1 parameter"))),
            _ => {}
        }
    }
    Ok(p)
}

type Ws = WebSocketStream<TcpStream>;

// The handshake callback's error type is tungstenite's own `http::Response`.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, st: Arc<State>) {
    if is_dictionary_request(&stream).await {
        serve_dictionary(stream).await;
        return;
    }
    let floor = st.faults.lock().unwrap().floor_seq;
    let mut params = None;
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        st.queries.lock().unwrap().push(req.uri().to_string());
        let refuse = |status: u16, body: String| {
            Err(http::Response::builder().status(status).body(Some(body)).expect("response"))
        };
        match parse_request(req.uri()) {
            Err((status, body)) => refuse(status, body),
            Ok(p) => {
                if let (true, Some(c), Some(f)) = (p.v2, p.cursor, floor)
                    && c < 1_000_000_000_000_000
                    && c < f
                {
                    let body = json!({"error": "CursorTooOld", "message": "cursor is below the retention floor", "floor": f});
                    return refuse(400, body.to_string());
                }
                params = Some(p);
                Ok(resp)
            }
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
    let Some(mut params) = params else { return };
    let (mut pos, outdated) = start_position(&st.history, &params, floor);
    let mut kill = st.kill.subscribe();
    kill.borrow_and_update();
    st.connections.send_modify(|c| *c += 1);
    if params.require_hello && !params.v2 {
        if !hello(&mut ws, &mut params).await {
            return;
        }
        st.options_updates.send_modify(|c| *c += 1);
    }
    if outdated {
        let info = json!({"$type": "message", "payload": {"$type": format!("{NS}info"), "name": "OutdatedCursor",
                          "message": "cursor below the retention floor: clamped"}});
        if ws.send(Message::text(info.to_string())).await.is_err() {
            return;
        }
    }
    let faults = {
        let mut f = st.faults.lock().unwrap();
        let mut now = f.clone();
        now.stall_after = f.stall_after.take();
        now.error_after = f.error_after.take();
        now
    };
    let _ = stream_events(&mut ws, &st, &mut params, &mut pos, &faults, &mut kill).await;
}

/// Where a subscription starts, and whether a cursor was clamped to the floor (v2 `OutdatedCursor`).
fn start_position(h: &History, p: &Params, floor: Option<i64>) -> (usize, bool) {
    let floor_pos = floor.map(|f| (f - 1).max(0) as usize).unwrap_or(0);
    match p.cursor {
        None => (h.len(), false),
        Some(c) if p.v2 && c < 1_000_000_000_000_000 => (((c - 1).max(0) as usize).max(floor_pos), false),
        Some(t) => {
            let pos = h.position(|e| e.time_us >= t);
            (pos.max(floor_pos), p.v2 && pos < floor_pos)
        }
    }
}

/// Waits for the first `options_update` of a `requireHello` subscription; false if the client left.
async fn hello(ws: &mut Ws, p: &mut Params) -> bool {
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg
            && apply_options(p, t.as_str())
        {
            return true;
        }
    }
    false
}

fn apply_options(p: &mut Params, text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(text) else { return false };
    if v["type"] != "options_update" {
        return false;
    }
    let list = |k: &str| -> Vec<String> {
        v["payload"][k]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    p.collections = list("wantedCollections");
    p.dids = list("wantedDids");
    true
}

enum Gone {
    Client,
}

async fn stream_events(
    ws: &mut Ws,
    st: &State,
    params: &mut Params,
    pos: &mut usize,
    f: &Faults,
    kill: &mut watch::Receiver<u64>,
) -> Result<(), Gone> {
    let mut len = st.history.len.subscribe();
    let mut sent = 0usize;
    loop {
        let batch = st.history.from(*pos);
        if batch.is_empty() {
            len.borrow_and_update();
            tokio::select! {
                _ = len.changed() => continue,
                _ = kill.changed() => return Err(Gone::Client),
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if apply_options(params, t.as_str()) {
                            st.options_updates.send_modify(|c| *c += 1);
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err(Gone::Client),
                    Some(Ok(_)) => continue,
                },
            }
        }
        *pos += batch.len();
        let mut wanted: Vec<Arc<Entry>> = batch
            .into_iter()
            .filter(|e| params.wants(e))
            .filter(|e| f.blind_collection.is_none() || e.collection != f.blind_collection)
            .collect();
        if let Some(w) = f.reorder_window.filter(|w| *w > 1) {
            for chunk in wanted.chunks_mut(w) {
                if chunk.len() == w {
                    chunk.reverse();
                }
            }
        }
        for e in wanted {
            if kill.has_changed().unwrap_or(true) {
                return Err(Gone::Client);
            }
            if f.stall_after == Some(sent) {
                let _ = ws.flush().await;
                // Neither send nor read: the client sees silence and unanswered pings.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = kill.changed() => {}
                }
                return Err(Gone::Client);
            }
            if let Some((after, error)) = &f.error_after
                && *after == sent
            {
                if params.v2 {
                    let frame =
                        json!({"$type": "error", "error": error, "message": "injected by the test server"});
                    let _ = ws.send(Message::text(frame.to_string())).await;
                }
                let _ = ws.close(None).await;
                return Err(Gone::Client);
            }
            if f.drop_every.is_some_and(|n| sent > 0 && sent.is_multiple_of(n)) {
                let _ = ws.flush().await;
                return Err(Gone::Client); // dropping the stream closes TCP without a close frame
            }
            let copies = if f.duplicate_every.is_some_and(|n| (sent + 1).is_multiple_of(n)) { 2 } else { 1 };
            for _ in 0..copies {
                ws.feed(encode(&e, params)).await.map_err(|_| Gone::Client)?;
            }
            sent += 1;
            if sent.is_multiple_of(64) {
                ws.flush().await.map_err(|_| Gone::Client)?;
            }
        }
        ws.flush().await.map_err(|_| Gone::Client)?;
    }
}

fn encode(e: &Entry, p: &Params) -> Message {
    if let Some(raw) = &e.raw {
        return raw.clone();
    }
    if p.v2 && p.zstd_dictionary.is_some() {
        let packed =
            e.v2_zstd.get_or_init(|| compressor().lock().unwrap().compress(e.v2.as_bytes()).expect("zstd"));
        return Message::binary(packed.clone());
    }
    if p.v2 {
        return Message::text(e.v2.clone());
    }
    if p.compress {
        let packed =
            e.v1_zstd.get_or_init(|| compressor().lock().unwrap().compress(e.v1.as_bytes()).expect("zstd"));
        return Message::binary(packed.clone());
    }
    Message::text(e.v1.clone())
}

fn compressor() -> &'static Mutex<zstd::bulk::Compressor<'static>> {
    static C: OnceLock<Mutex<zstd::bulk::Compressor<'static>>> = OnceLock::new();
    C.get_or_init(|| {
        Mutex::new(zstd::bulk::Compressor::with_dictionary(3, V1_DICTIONARY).expect("zstd dictionary"))
    })
}

/// The ID of the dictionary the server publishes on `getZstdDictionary` (it serves the v1 dictionary
/// there too: any structured zstd dictionary will do).
const DICTIONARY_ID: u32 = 1_612_007_021;
const DICTIONARY_PATH: &str = "/xrpc/network.bsky.jetstream.getZstdDictionary";

/// Whether the connection starts with a plain `GET` of `getZstdDictionary` rather than an upgrade.
async fn is_dictionary_request(stream: &TcpStream) -> bool {
    let want = format!("GET {DICTIONARY_PATH}");
    let mut buf = vec![0u8; want.len()];
    for _ in 0..100 {
        match stream.peek(&mut buf).await {
            Ok(n) if n >= want.len() => return buf == want.as_bytes(),
            Ok(n) if n > 0 && !want.as_bytes().starts_with(&buf[..n]) => return false,
            Ok(0) | Err(_) => return false,
            Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    false
}

async fn serve_dictionary(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        V1_DICTIONARY.len()
    );
    let _ = stream.write_all(header.as_bytes()).await;
    let _ = stream.write_all(V1_DICTIONARY).await;
    let _ = stream.shutdown().await;
}

/// Replaces the number after `"time_us":` (the frame is otherwise kept byte for byte).
fn with_time_us(frame: &str, t: i64) -> String {
    let key = "\"time_us\":";
    let Some(i) = frame.find(key) else { return frame.to_owned() };
    let start = i + key.len();
    let end =
        start + frame[start..].find(|c: char| !c.is_ascii_digit() && c != ' ').unwrap_or(frame.len() - start);
    format!("{}{t}{}", &frame[..start], &frame[end..])
}

/// The v2 message for a v1 frame: commit fields flattened into the payload, identity and account
/// bodies kept under their own key, and the instance's seq and time.
fn to_v2(v: &Value, seq: i64, time_us: i64) -> String {
    let kind = v["kind"].as_str().unwrap_or("unknown");
    let time = jiff::Timestamp::from_microsecond(time_us).map(|t| t.to_string()).unwrap_or_default();
    let mut payload = json!({"$type": format!("{NS}{kind}"), "seq": seq, "did": v["did"], "time": time});
    match kind {
        "commit" => {
            if let Some(commit) = v["commit"].as_object() {
                for (k, val) in commit {
                    payload[k] = val.clone();
                }
            }
        }
        other => payload[other] = v[other].clone(),
    }
    json!({"$type": "message", "payload": payload}).to_string()
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
