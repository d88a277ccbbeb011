//! A minimal blocking HTTP/1.1 client (Connection: close) for the gateway's control API and for
//! chromedriver's Chrome DevTools Protocol passthrough. Loopback only; every call is bounded by
//! a read timeout and returns an error instead of panicking. The browser tests include this
//! file as well (`tests/browser/main.rs`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

/// One HTTP response: status, lower-cased header names with their values, and the body bytes
/// (de-chunked).
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    #[allow(dead_code)] // used by the browser tests, which include this file too
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }
}

/// Sends one request with an optional JSON body and reads the whole response.
pub fn raw_request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Result<RawResponse, String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let fail = |err: std::io::Error| format!("{method} http://{addr}{path}: {err}");
    let mut stream = TcpStream::connect(addr).map_err(fail)?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(fail)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(fail)?;
    stream.write_all(body.as_bytes()).map_err(fail)?;
    let response = read_response(&mut stream).map_err(fail)?;

    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let rest = response.get(split + 4..).unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{method} http://{addr}{path}: no HTTP status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(key, value)| key == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_vec() };
    Ok(RawResponse { status, headers, body })
}

/// Sends one request with an optional JSON body; returns (status, JSON body or the text as a
/// JSON string).
pub fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
    let response = raw_request(addr, method, path, body)?;
    let text = String::from_utf8_lossy(&response.body);
    let value = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()));
    Ok((response.status, value))
}

/// `request` that also requires a 2xx status.
pub fn request_ok(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let (status, value) = request(addr, method, path, body)?;
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        Err(format!("{method} {path} answered {status}: {value}"))
    }
}

/// Reads one response. Stops at the end of the body (Content-Length or the last chunk) rather
/// than at end of stream, because chromedriver keeps the connection open despite
/// `Connection: close`.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(response);
        }
        response.extend_from_slice(&buffer[..read]);
        let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        let body_len = response.len() - (split + 4);
        let content_length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        if let Some(length) = content_length {
            if body_len >= length {
                return Ok(response);
            }
        } else if head.contains("transfer-encoding: chunked") && response.ends_with(b"0\r\n\r\n") {
            return Ok(response);
        }
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..line_end]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let tail = &rest[line_end + 2..];
        if n == 0 || tail.len() < n {
            break;
        }
        out.extend_from_slice(&tail[..n]);
        rest = tail[n..].strip_prefix(b"\r\n").unwrap_or(&tail[n..]);
    }
    out
}

/// Chrome DevTools Protocol commands through chromedriver's
/// `POST /session/{id}/goog/cdp/execute` (the WebDriver session fantoccini drives).
pub struct Cdp {
    pub chromedriver: String,
    pub session_id: String,
}

impl Cdp {
    /// Runs `cmd` with `params` and returns its result object.
    pub fn call(&self, cmd: &str, params: Value) -> Result<Value, String> {
        let path = format!("/session/{}/goog/cdp/execute", self.session_id);
        let (status, body) = request(
            &self.chromedriver,
            "POST",
            &path,
            Some(&json!({ "cmd": cmd, "params": params })),
        )?;
        if status != 200 {
            return Err(format!("CDP {cmd} answered {status}: {body}"));
        }
        Ok(body.get("value").cloned().unwrap_or(Value::Null))
    }
}
