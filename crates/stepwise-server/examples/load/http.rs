//! A minimal HTTP/1.1 client of its own (so the measurement depends on nothing it measures),
//! and a description of the machine.

use super::*;

pub(crate) fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> Vec<u8> {
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n").into_bytes()
}

pub(crate) fn post(addr: SocketAddr, path: &str, key: &str, body: &str) -> Vec<u8> {
    with_body("POST", addr, path, key, body)
}

pub(crate) fn put(addr: SocketAddr, path: &str, key: &str, body: &str) -> Vec<u8> {
    with_body("PUT", addr, path, key, body)
}

/// A JSON-RPC message to `/mcp`, accepting what the streamable HTTP transport may answer with.
pub(crate) fn post_mcp(addr: SocketAddr, key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn with_body(method: &str, addr: SocketAddr, path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A reply: its status, its body, and whether the server will close the connection.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) close: bool,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(400).collect();
        format!("HTTP {} {body}", self.status)
    }
}

/// One HTTP/1.1 keep-alive connection: one request at a time, replies framed by
/// `Content-Length` (the server sends every reply this client asks for with one).
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) buffer: Vec<u8>,
    pub(crate) filled: usize,
}

impl Connection {
    pub(crate) async fn open(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(Self {
            stream,
            buffer: vec![0; 64 << 10],
            filled: 0,
        })
    }

    pub(crate) async fn exchange(&mut self, request: &[u8]) -> Result<Reply, String> {
        self.send(request)
            .await
            .map_err(|e| format!("sending a request: {e}"))?;
        self.receive().await
    }

    pub(crate) async fn send(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the socket has into the buffer (at least one byte).
    pub(crate) async fn fill(&mut self) -> Result<(), String> {
        if self.filled == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        loop {
            self.stream
                .readable()
                .await
                .map_err(|e| format!("reading a reply: {e}"))?;
            match self.stream.try_read(&mut self.buffer[self.filled..]) {
                Ok(0) => return Err("the server closed the connection mid-reply".into()),
                Ok(n) => {
                    self.filled += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("reading a reply: {e}")),
            }
        }
    }

    pub(crate) async fn receive(&mut self) -> Result<Reply, String> {
        let head_end = loop {
            if let Some(at) = self.buffer[..self.filled]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .map_err(|_| "a reply head is not UTF-8".to_owned())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {status_line:?}"))?;
        let (mut length, mut close) = (None, false);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!(
                    "a reply came with Transfer-Encoding: {value}; this client reads only Content-Length"
                ));
            }
        }
        let length = length.ok_or_else(|| format!("a reply without Content-Length: {head:?}"))?;
        let end = head_end + length;
        while self.filled < end {
            if self.filled == self.buffer.len() {
                self.buffer.resize(end.max(self.buffer.len() * 2), 0);
            }
            self.fill().await?;
        }
        let body = self.buffer[head_end..end].to_vec();
        self.buffer.copy_within(end..self.filled, 0);
        self.filled -= end;
        Ok(Reply {
            status,
            body,
            close,
        })
    }
}

/// The machine, as the report needs it.
pub(crate) fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "cpu": cpu,
    })
}
