//! Reading newline-separated frames with a cap, so one enormous line cannot exhaust memory.

use std::io::{self, BufRead};

/// One line as read: up to `max` bytes of it, and its full length.
#[derive(Debug, Default)]
pub(crate) struct CappedLine {
    pub bytes: Vec<u8>,
    pub full_len: usize,
    /// The file ended without a newline after this line (a torn final write, or just no trailing newline).
    pub unterminated: bool,
}

impl CappedLine {
    pub fn truncated(&self) -> bool {
        self.full_len > self.bytes.len()
    }
}

/// Reads the next line (without its `\n`) into `line`; keeps at most `max` bytes. `Ok(false)` at EOF.
pub(crate) fn read_capped(reader: &mut impl BufRead, line: &mut CappedLine, max: usize) -> io::Result<bool> {
    line.bytes.clear();
    line.full_len = 0;
    line.unterminated = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            line.unterminated = line.full_len > 0;
            return Ok(line.full_len > 0);
        }
        let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        let room = max.saturating_sub(line.bytes.len());
        line.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        line.full_len += chunk.len();
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Vec<u8>, usize, bool)> {
        let mut r = io::BufReader::with_capacity(4, input);
        let mut line = CappedLine::default();
        let mut out = Vec::new();
        while read_capped(&mut r, &mut line, max).unwrap() {
            out.push((line.bytes.clone(), line.full_len, line.unterminated));
        }
        out
    }

    #[test]
    fn splits_caps_and_marks_the_torn_tail() {
        assert_eq!(
            lines(b"ab\n\nabcdefgh\n{\"x", 5),
            vec![
                (b"ab".to_vec(), 2, false),
                (b"".to_vec(), 0, false),
                (b"abcde".to_vec(), 8, false),
                (b"{\"x".to_vec(), 3, true),
            ]
        );
        assert!(lines(b"", 5).is_empty());
    }
}
