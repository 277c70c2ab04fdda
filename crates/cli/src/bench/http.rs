//! A minimal blocking HTTP/1.1 client over one keep-alive `TcpStream`: enough to post export
//! requests and read small answers, with as little client CPU as possible so the server under
//! test gets the cores. It speaks only what the benchmark needs: `Content-Length` bodies out,
//! `Content-Length`, chunked or close-delimited bodies in, no TLS, no redirects.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

pub struct Response {
    pub status: u16,
    /// Seconds from `Retry-After`, when the server sent one as a number.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

impl Response {
    /// The start of the body as text, for error messages.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        text.chars()
            .map(|character| {
                if character.is_control() {
                    ' '
                } else {
                    character
                }
            })
            .collect()
    }
}

pub struct Connection {
    address: SocketAddr,
    reader: BufReader<TcpStream>,
    /// The server said `Connection: close`; the next request needs a new connection.
    closed: bool,
}

const IO_TIMEOUT: Duration = Duration::from_secs(120);

impl Connection {
    pub fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true).context("cannot set TCP_NODELAY")?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .context("cannot set a read timeout")?;
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .context("cannot set a write timeout")?;
        Ok(Connection {
            address,
            reader: BufReader::with_capacity(16 * 1024, stream),
            closed: false,
        })
    }

    /// Sends one request and reads its response, reconnecting first if the server closed the
    /// connection after the previous one.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<Response> {
        if self.closed {
            *self = Connection::open(self.address)?;
        }
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sloscope-bench\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .with_context(|| format!("cannot send {method} {path} to {}", self.address))?;
        self.read_response()
            .with_context(|| format!("no valid response to {method} {path} from {}", self.address))
    }

    pub fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        self.request("GET", path, None, &[])
    }

    fn read_line(&mut self, line: &mut String) -> anyhow::Result<()> {
        line.clear();
        let read = self.reader.read_line(line)?;
        if read == 0 {
            bail!("connection closed by the server");
        }
        Ok(())
    }

    fn read_response(&mut self) -> anyhow::Result<Response> {
        let mut line = String::new();
        self.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("bad status line `{}`", line.trim_end()))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut retry_after = None;
        loop {
            self.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                bail!("bad header line `{header}`")
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(
                    value
                        .parse::<usize>()
                        .with_context(|| format!("bad content-length `{value}`"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                self.closed |= value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("retry-after") {
                retry_after = value.parse().ok();
            }
        }
        let body = if chunked {
            self.read_chunked()?
        } else if let Some(length) = content_length {
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            body
        } else {
            self.closed = true;
            let mut body = Vec::new();
            self.reader.read_to_end(&mut body)?;
            body
        };
        if (100..200).contains(&status) {
            // An interim answer; the real one follows.
            return self.read_response();
        }
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }

    fn read_chunked(&mut self) -> anyhow::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            self.read_line(&mut line)?;
            let size_text = line.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_text, 16)
                .with_context(|| format!("bad chunk size `{size_text}`"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    self.read_line(&mut line)?;
                    if line.trim_end().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..])?;
            self.read_line(&mut line)?;
        }
    }
}

/// One request on a fresh connection.
pub fn request_once(address: SocketAddr, method: &str, path: &str) -> anyhow::Result<Response> {
    Connection::open(address)?.request(method, path, None, &[])
}
