//! WebSocket messages no well-behaved host sends, for the stream tests and both test servers: a text
//! frame that is not UTF-8, one longer than tungstenite's default frame limit, a frame with reserved bits.

use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// A text frame carrying `bytes` as they are (a `Message::Text` must be UTF-8; this need not be).
pub fn raw_text(bytes: &[u8]) -> Message {
    Message::Frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true))
}

/// A valid text frame of `len` bytes: over 16 MiB, more than tungstenite reads by default.
pub fn long_text(len: usize) -> Message {
    Message::text("x".repeat(len))
}

/// A binary frame with the first reserved bit set: a WebSocket client must refuse it.
pub fn reserved_bits(bytes: &[u8]) -> Message {
    let mut frame = Frame::message(bytes.to_vec(), OpCode::Data(Data::Binary), true);
    frame.header_mut().rsv1 = true;
    Message::Frame(frame)
}
