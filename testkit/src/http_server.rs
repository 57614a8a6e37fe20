//! A scriptable HTTP/1.1 server on 127.0.0.1:0 that plays a PDS, a PLC directory or a did:web host, and
//! counts the connections it accepted (so a test can prove a refused target was never reached).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status with a body and `Content-Length`.
    Body { status: u16, content_type: &'static str, body: Vec<u8> },
    /// A 302 to `location`.
    Redirect(String),
    /// `200` with chunked encoding (no `Content-Length`): `chunk`, `count` times.
    Chunked { chunk: Vec<u8>, count: usize },
    /// Accept, read the request, then never answer.
    Stall,
    /// Headers announcing `declared` bytes, then `prefix`, then nothing more.
    StallAfter { declared: usize, prefix: Vec<u8> },
}

impl Reply {
    pub fn ok(body: Vec<u8>) -> Self {
        Self::Body { status: 200, content_type: "application/octet-stream", body }
    }

    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::Body { status: 200, content_type: "application/json", body: body.into() }
    }

    pub fn status(status: u16) -> Self {
        Self::Body { status, content_type: "application/json", body: br#"{"error":"x"}"#.to_vec() }
    }
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

pub struct TestServer {
    addr: std::net::SocketAddr,
    accepted: Arc<AtomicUsize>,
    _tasks: JoinSet<()>,
}

impl TestServer {
    /// Serve `handler(path_and_query)` for every request.
    pub async fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(handler);
        let mut tasks = JoinSet::new();
        let counter = accepted.clone();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream, handler.clone()));
            }
        });
        Self { addr, accepted, _tasks: tasks }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn serve(mut stream: TcpStream, handler: Handler) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let _ = respond(&mut stream, handler(&path)).await;
}

async fn respond(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Body { status, content_type, body } => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::Redirect(location) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
        }
        Reply::Chunked { chunk, count } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                .await?;
            for _ in 0..count {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
        Reply::Stall => std::future::pending::<()>().await,
        Reply::StallAfter { declared, prefix } => {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {declared}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&prefix).await?;
            stream.flush().await?;
            std::future::pending::<()>().await
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}
