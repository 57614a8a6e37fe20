//! A `com.atproto.sync.subscribeRepos` WebSocket server for tests, on 127.0.0.1:0.
//!
//! A [`FirehoseHistory`] is the host's sequence: frame `n` (1-based) is the message with seq `n` (or
//! whatever broken bytes a test put there). `?cursor=N` replays from seq `N + 1` as a PDS does, a cursor
//! past the head is answered with a `FutureCursor` error frame, one below the host's floor with an
//! `OutdatedCursor` info frame and a replay from the floor; no cursor follows the live tail. Tests can
//! drop every connection, or send any message to every connection (an error frame, then a close).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;

use crate::tasks::Tasks;

use crate::firehose_frames::{error_frame, info_frame};

/// The subscription path.
pub const SUBSCRIBE_REPOS_PATH: &str = "/xrpc/com.atproto.sync.subscribeRepos";

/// The host's messages, in seq order.
#[derive(Debug)]
pub struct FirehoseHistory {
    frames: Mutex<Vec<Message>>,
    len: watch::Sender<usize>,
    /// The oldest seq still kept (1: everything).
    floor: Mutex<i64>,
}

impl FirehoseHistory {
    pub fn new() -> Arc<Self> {
        Arc::new(FirehoseHistory {
            frames: Mutex::new(Vec::new()),
            len: watch::Sender::new(0),
            floor: Mutex::new(1),
        })
    }

    /// The seq the next pushed frame gets.
    pub fn next_seq(&self) -> i64 {
        self.frames.lock().unwrap().len() as i64 + 1
    }

    /// Appends the binary frame `build(seq)` makes for the next seq; returns that seq.
    pub fn push_with(&self, build: impl FnOnce(i64) -> Vec<u8>) -> i64 {
        let mut frames = self.frames.lock().unwrap();
        let seq = frames.len() as i64 + 1;
        frames.push(Message::binary(build(seq)));
        self.len.send_replace(frames.len());
        seq
    }

    /// Appends any message (garbage, a text frame) in the next seq's place.
    pub fn push_message(&self, msg: Message) -> i64 {
        let mut frames = self.frames.lock().unwrap();
        frames.push(msg);
        self.len.send_replace(frames.len());
        frames.len() as i64
    }

    pub fn len(&self) -> usize {
        self.frames.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything below `seq`: older cursors get `OutdatedCursor` and a replay from `seq`.
    pub fn set_floor(&self, seq: i64) {
        *self.floor.lock().unwrap() = seq;
    }

    fn from(&self, pos: usize) -> Vec<Message> {
        self.frames.lock().unwrap().get(pos..).map(<[Message]>::to_vec).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
enum Control {
    Send(Message),
    Close,
}

#[derive(Debug)]
struct State {
    history: Arc<FirehoseHistory>,
    connections: watch::Sender<usize>,
    queries: Mutex<Vec<String>>,
    control: broadcast::Sender<Control>,
    tasks: Tasks,
    /// Replay everything whatever the cursor (a host that redelivers what the client has).
    ignore_cursor: AtomicBool,
}

impl AsRef<Tasks> for State {
    fn as_ref(&self) -> &Tasks {
        &self.tasks
    }
}

/// A running server. Dropping it stops it and drops every connection.
#[derive(Debug)]
pub struct FirehoseServer {
    addr: SocketAddr,
    state: Arc<State>,
}

impl FirehoseServer {
    pub async fn start(history: Arc<FirehoseHistory>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the firehose server");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            history,
            connections: watch::Sender::new(0),
            queries: Mutex::new(Vec::new()),
            control: broadcast::channel(64).0,
            tasks: Tasks::default(),
            ignore_cursor: AtomicBool::new(false),
        });
        Tasks::accept(&state, listener, serve);
        FirehoseServer { addr, state }
    }

    /// `ws://127.0.0.1:PORT/xrpc/com.atproto.sync.subscribeRepos`.
    pub fn url(&self) -> String {
        format!("ws://{}{SUBSCRIBE_REPOS_PATH}", self.addr)
    }

    /// Subscriptions accepted so far.
    pub fn connections(&self) -> usize {
        *self.state.connections.borrow()
    }

    /// Waits until at least `n` subscriptions have been accepted (their start is fixed by then).
    pub async fn wait_connections(&self, n: usize) {
        let mut rx = self.state.connections.subscribe();
        rx.wait_for(|c| *c >= n).await.expect("server alive");
    }

    /// The request path and query of every handshake, in order.
    pub fn queries(&self) -> Vec<String> {
        self.state.queries.lock().unwrap().clone()
    }

    /// Sends `msg` on every open connection, after what it has sent so far.
    pub fn send_to_all(&self, msg: Message) {
        let _ = self.state.control.send(Control::Send(msg));
    }

    /// Sends an error frame on every open connection, then closes them (as a PDS does).
    pub fn error_and_close(&self, error: &str) {
        self.send_to_all(Message::binary(error_frame(error, "injected by the test server")));
        self.disconnect_all();
    }

    /// From the next connection on, replay the whole history whatever the cursor asks for.
    pub fn set_ignore_cursor(&self, ignore: bool) {
        self.state.ignore_cursor.store(ignore, Ordering::Relaxed);
    }

    /// Drops every open connection (the listener stays up).
    pub fn disconnect_all(&self) {
        let _ = self.state.control.send(Control::Close);
    }

    pub fn shutdown(&self) {
        self.state.tasks.abort_all();
    }
}

impl Drop for FirehoseServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

// The handshake callback's error type is tungstenite's own `http::Response`.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, st: Arc<State>) {
    let mut cursor: Option<Result<i64, ()>> = None;
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        st.queries.lock().unwrap().push(req.uri().to_string());
        if req.uri().path() != SUBSCRIBE_REPOS_PATH {
            return Err(http::Response::builder()
                .status(404)
                .body(Some("not found".into()))
                .expect("response"));
        }
        cursor = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("cursor="))
            .map(|c| c.parse().map_err(|_| ()));
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
    let mut control = st.control.subscribe();
    let len = st.history.len() as i64;
    let floor = *st.history.floor.lock().unwrap();
    let start = match cursor {
        _ if st.ignore_cursor.load(Ordering::Relaxed) => Some(0),
        None => Some(len as usize),
        Some(Err(())) => {
            let _ = ws.send(Message::binary(error_frame("InvalidRequest", "cursor is not an integer"))).await;
            None
        }
        Some(Ok(c)) if c > len => {
            let _ = ws.send(Message::binary(error_frame("FutureCursor", "cursor in the future"))).await;
            let _ = ws.close(None).await;
            None
        }
        Some(Ok(c)) if c + 1 < floor => {
            let info =
                info_frame("OutdatedCursor", "requested cursor exceeded limit. possibly missing events");
            ws.send(Message::binary(info)).await.ok().map(|_| (floor - 1) as usize)
        }
        Some(Ok(c)) => Some(c.max(0) as usize),
    };
    // Counted once the start is fixed (or refused): a test that waits for the connection, then pushes,
    // is served what it pushed.
    st.connections.send_modify(|c| *c += 1);
    let Some(mut pos) = start else { return };
    let mut grown = st.history.len.subscribe();
    loop {
        let batch = st.history.from(pos);
        pos += batch.len();
        for msg in batch {
            if ws.feed(msg).await.is_err() {
                return;
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
        grown.borrow_and_update();
        if st.history.len() > pos {
            continue;
        }
        tokio::select! {
            _ = grown.changed() => {}
            c = control.recv() => match c {
                Ok(Control::Send(msg)) => {
                    if ws.send(msg).await.is_err() {
                        return;
                    }
                }
                Ok(Control::Close) | Err(_) => {
                    let _ = ws.close(None).await;
                    return;
                }
            },
            msg = ws.next() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
