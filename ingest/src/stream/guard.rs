//! Between the socket and tungstenite: every data message a host sends reaches reprise, whatever its
//! size or encoding.
//!
//! tungstenite ends the connection on a text frame that is not UTF-8 or a frame over its size limit, so
//! the host would re-send it after the resume's rewind, forever. The guard reads the server's frame
//! headers as the bytes pass and rewrites two things: a text frame is handed on as binary (reprise checks
//! the text itself), and a data message is cut to its first `keep` bytes (the length field is rewritten
//! and the rest of the payload read and dropped, so memory stays bounded). Each data message's kind and
//! length as sent go to a [`Notes`] queue, in order, for the reader to pair with what tungstenite yields.
//! Everything else (control frames, reserved opcodes, masked frames) passes unchanged.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read from the socket at a time.
const CHUNK: usize = 64 * 1024;
/// The longest frame header (2 bytes, a 64-bit length, a mask key).
const MAX_HEADER: usize = 14;

/// One data message as the host sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Note {
    /// Sent as a text frame (handed on as binary).
    pub text: bool,
    /// Its length as sent, before any cut.
    pub len: u64,
}

/// The notes of the messages read so far and not yet taken, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes(Arc<Mutex<VecDeque<Note>>>);

impl Notes {
    /// The note of the oldest data message not yet taken.
    pub(crate) fn take(&self) -> Option<Note> {
        self.lock().pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Note>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The status line of the one handshake answer after which frames follow.
const UPGRADE: &[u8] = b"HTTP/1.1 101";
const END_OF_HEAD: &[u8] = b"\r\n\r\n";

/// What the guard expects next in the byte stream.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// The HTTP answer to the upgrade request: `seen` bytes so far, the last `matched` of them the
    /// start of its blank line, and whether it is still an upgrade (101).
    Handshake {
        seen: usize,
        matched: usize,
        upgrade: bool,
    },
    /// Anything but an upgrade: tungstenite reports it; nothing is rewritten.
    Untouched,
    Header,
    /// `left` payload bytes of the current frame, the first `pass` of them handed on.
    Payload {
        left: u64,
        pass: u64,
    },
}

/// An `AsyncRead + AsyncWrite` stream with the server's data frames rewritten as described above. Writes
/// pass through untouched.
#[derive(Debug)]
pub(crate) struct FrameGuard<S> {
    inner: S,
    /// `buf[start..ready]` is processed and not yet read; `buf[ready..end]` is an incomplete header.
    buf: Box<[u8]>,
    start: usize,
    ready: usize,
    end: usize,
    next: Next,
    keep: u64,
    /// The current data message: bytes sent so far, and handed on so far.
    sent: u64,
    kept: u64,
    in_message: bool,
    notes: Notes,
}

impl<S> FrameGuard<S> {
    /// Guards `inner`, cutting data messages to `keep` bytes.
    pub(crate) fn new(inner: S, keep: usize, notes: Notes) -> Self {
        FrameGuard {
            inner,
            buf: vec![0; CHUNK + MAX_HEADER].into_boxed_slice(),
            start: 0,
            ready: 0,
            end: 0,
            next: Next::Handshake { seen: 0, matched: 0, upgrade: true },
            keep: keep as u64,
            sent: 0,
            kept: 0,
            in_message: false,
            notes,
        }
    }

    /// Rewrites `buf[ready..end]` in place (a cut payload only shrinks it), leaving an incomplete
    /// header at the end for the next read.
    fn process(&mut self) {
        let (mut r, mut w) = (self.ready, self.ready);
        while r < self.end {
            match self.next {
                Next::Handshake { seen, matched, upgrade } => {
                    let b = self.buf[r];
                    self.buf[w] = b;
                    (r, w) = (r + 1, w + 1);
                    let upgrade = upgrade && UPGRADE.get(seen).is_none_or(|u| *u == b);
                    let matched = match b == END_OF_HEAD[matched] {
                        true => matched + 1,
                        false => usize::from(b == b'\r'),
                    };
                    self.next = match (matched, upgrade) {
                        (4, true) => Next::Header,
                        (4, false) => Next::Untouched,
                        _ => Next::Handshake { seen: seen + 1, matched, upgrade },
                    };
                    continue;
                }
                Next::Untouched => {
                    self.buf.copy_within(r..self.end, w);
                    (w, r) = (w + self.end - r, self.end);
                    continue;
                }
                Next::Header => {
                    let Some(h) = Header::parse(&self.buf[r..self.end]) else { break };
                    let pass = self.on_header(r, h);
                    self.buf.copy_within(r..r + h.len, w);
                    (r, w) = (r + h.len, w + h.len);
                    self.next = Next::Payload { left: h.payload, pass };
                }
                Next::Payload { left, pass } => {
                    let n = left.min((self.end - r) as u64);
                    let p = n.min(pass);
                    if w != r {
                        self.buf.copy_within(r..r + p as usize, w);
                    }
                    (r, w) = (r + n as usize, w + p as usize);
                    self.next = Next::Payload { left: left - n, pass: pass - p };
                }
            }
            if let Next::Payload { left: 0, .. } = self.next {
                self.next = Next::Header;
            }
        }
        self.buf.copy_within(r..self.end, w);
        self.end = w + (self.end - r);
        self.ready = w;
    }

    /// Notes and rewrites the header at `buf[at..]`; returns how many payload bytes to hand on.
    fn on_header(&mut self, at: usize, h: Header) -> u64 {
        let b = &mut self.buf[at..at + h.len];
        let opcode = b[0] & 0x0F;
        if opcode == 1 || opcode == 2 {
            self.notes.lock().push_back(Note { text: opcode == 1, len: 0 });
            (self.sent, self.kept, self.in_message) = (0, 0, true);
            b[0] = (b[0] & 0xF0) | 2;
        } else if opcode != 0 || !self.in_message {
            return h.payload; // control, reserved, or a stray continuation: tungstenite decides
        }
        self.sent = self.sent.saturating_add(h.payload);
        if let Some(last) = self.notes.lock().back_mut() {
            last.len = self.sent;
        }
        if b[0] & 0x80 != 0 {
            self.in_message = false;
        }
        let pass = h.payload.min(self.keep - self.kept);
        self.kept += pass;
        if pass < h.payload {
            // The same length encoding, a smaller value: tungstenite accepts non-minimal lengths.
            match b[1] & 0x7F {
                126 => b[2..4].copy_from_slice(&(pass as u16).to_be_bytes()),
                127 => b[2..10].copy_from_slice(&pass.to_be_bytes()),
                _ => b[1] = (b[1] & 0x80) | pass as u8,
            }
        }
        pass
    }
}

/// A frame header's size and payload length.
#[derive(Debug, Clone, Copy)]
struct Header {
    len: usize,
    payload: u64,
}

impl Header {
    /// `None` until the whole header is there.
    fn parse(b: &[u8]) -> Option<Header> {
        let second = *b.get(1)?;
        let ext = match second & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let len = 2 + ext + if second & 0x80 != 0 { 4 } else { 0 };
        if b.len() < len {
            return None;
        }
        let payload = match ext {
            2 => u16::from_be_bytes([b[2], b[3]]) as u64,
            8 => u64::from_be_bytes(b[2..10].try_into().ok()?),
            _ => (second & 0x7F) as u64,
        };
        Some(Header { len, payload })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.start < this.ready {
                let n = (this.ready - this.start).min(out.remaining());
                out.put_slice(&this.buf[this.start..this.start + n]);
                this.start += n;
                return Poll::Ready(Ok(()));
            }
            // Everything processed was read: only an incomplete header (if any) is left; move it first.
            this.buf.copy_within(this.ready..this.end, 0);
            (this.end, this.start, this.ready) = (this.end - this.ready, 0, 0);
            let mut read = ReadBuf::new(&mut this.buf[this.end..]);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        // End of stream: a torn header goes on as it is, for tungstenite to report.
                        this.ready = this.end;
                        if this.ready == 0 {
                            return Poll::Ready(Ok(()));
                        }
                        continue;
                    }
                    this.end += n;
                    this.process();
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameGuard<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    use super::*;

    fn frame(op: OpCode, payload: &[u8], fin: bool) -> Vec<u8> {
        let mut out = Vec::new();
        Frame::message(payload.to_vec(), op, fin).format(&mut out).unwrap();
        out
    }

    const TEXT: OpCode = OpCode::Data(Data::Text);
    const BINARY: OpCode = OpCode::Data(Data::Binary);
    const MORE: OpCode = OpCode::Data(Data::Continue);

    /// Reads at most `step` bytes per call, so headers and payloads split everywhere.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.step.min(self.data.len() - self.at).min(out.remaining());
            let at = self.at;
            out.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";

    /// What the guard hands on for `input` after an upgrade, read in pieces of 1, 3 and 64 KiB bytes
    /// (all must agree).
    fn check(input: &[u8], keep: usize, output: &[u8], notes: &[Note]) {
        check_raw(&[HEAD, input].concat(), keep, &[HEAD, output].concat(), notes);
    }

    fn check_raw(input: &[u8], keep: usize, output: &[u8], notes: &[Note]) {
        for step in [1, 3, CHUNK] {
            let n = Notes::default();
            let mut g = FrameGuard::new(Trickle { data: input.to_vec(), at: 0, step }, keep, n.clone());
            let mut got = Vec::new();
            futures_util::FutureExt::now_or_never(g.read_to_end(&mut got)).unwrap().unwrap();
            assert_eq!(got, output, "step {step}");
            let taken: Vec<Note> = std::iter::from_fn(|| n.take()).collect();
            assert_eq!(taken, notes, "step {step}");
        }
    }

    #[test]
    fn text_frames_go_on_as_binary_with_a_note() {
        let bad = b"not \xff utf-8";
        check(
            &[frame(TEXT, bad, true), frame(BINARY, b"zstd", true)].concat(),
            100,
            &[frame(BINARY, bad, true), frame(BINARY, b"zstd", true)].concat(),
            &[Note { text: true, len: 11 }, Note { text: false, len: 4 }],
        );
    }

    #[test]
    fn a_message_is_cut_to_keep_bytes_in_every_length_encoding() {
        let big = vec![b'x'; 300];
        // 7-bit, 16-bit and 64-bit lengths (the last written non-minimally by some servers).
        let mut long = vec![0x82, 127];
        long.extend_from_slice(&300u64.to_be_bytes());
        long.extend_from_slice(&big);
        check(
            &[frame(TEXT, &big[..100], true), frame(BINARY, &big, true), long, frame(BINARY, b"ok", true)]
                .concat(),
            10,
            &[
                &[0x82, 10][..],
                &big[..10],
                &[0x82, 126, 0, 10],
                &big[..10],
                &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 10],
                &big[..10],
                &frame(BINARY, b"ok", true),
            ]
            .concat(),
            &[
                Note { text: true, len: 100 },
                Note { text: false, len: 300 },
                Note { text: false, len: 300 },
                Note { text: false, len: 2 },
            ],
        );
    }

    #[test]
    fn a_fragmented_message_is_cut_across_its_frames_and_control_frames_pass() {
        let mut ping = Vec::new();
        Frame::ping(b"p".to_vec()).format(&mut ping).unwrap();
        check(
            &[
                frame(TEXT, b"abcdefgh", false),
                ping.clone(),
                frame(MORE, b"ijklmnop", false),
                frame(MORE, b"qrst", true),
            ]
            .concat(),
            12,
            &[frame(BINARY, b"abcdefgh", false), ping, frame(MORE, b"ijkl", false), vec![0x80, 0]].concat(),
            &[Note { text: true, len: 20 }],
        );
    }

    #[test]
    fn an_answer_that_is_no_upgrade_is_handed_on_untouched() {
        // A refused handshake's body may look like frames (`{` is an opcode, `"` a length): left as it is.
        let refused =
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 30\r\n\r\n{\"error\":\"CursorTooOld\",\"x\":1}";
        check_raw(refused, 1, refused, &[]);
        let mut text = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        text.extend(frame(TEXT, b"abc", true));
        check_raw(&text, 1, &text, &[]);
    }

    #[test]
    fn a_torn_stream_is_handed_on_as_it_is() {
        let whole = frame(BINARY, b"payload", true);
        check(&whole[..1], 100, &whole[..1], &[]);
        check(&whole[..5], 100, &whole[..5], &[Note { text: false, len: 7 }]);
    }
}
