//! A minimal W3C WebDriver client over HTTP/1.1 (std `TcpStream`, one connection
//! per request, `Connection: close`; Content-Length, chunked or until-EOF bodies).
//! Enough to drive the Tauri app through `tauri-driver`: sessions, finding,
//! clicking, typing, reading, scripts and screenshots. Every call returns
//! `Result<_, String>` so a test can attach diagnostics before it fails.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C key of an element reference in JSON.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The error suffix of a connection closed without any response.
const EMPTY_RESPONSE: &str = "connection closed without a response";

/// How often the `wait_*` helpers poll.
pub const POLL: Duration = Duration::from_millis(100);

/// A WebDriver result; the error says which request failed and why.
pub type WdResult<T> = Result<T, String>;

/// One HTTP request to `127.0.0.1:port`; returns the status and the JSON body
/// (`Value::Null` when empty).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> WdResult<(u16, Value)> {
    let what = format!("{method} {path}");
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("{what}: connect to 127.0.0.1:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("{what}: {e}"))?;
    let payload = match (body, method) {
        (Some(b), _) => serde_json::to_vec(b).unwrap(),
        (None, "POST") => b"{}".to_vec(),
        (None, _) => Vec::new(),
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Accept: application/json\r\n"
    );
    if method == "POST" || !payload.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n",
            payload.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&payload);
    stream
        .write_all(&bytes)
        .map_err(|e| format!("{what}: write: {e}"))?;

    let mut r = BufReader::new(stream);
    let io = |e: std::io::Error| format!("{what}: read: {e}");
    let mut status_line = String::new();
    r.read_line(&mut status_line).map_err(io)?;
    if status_line.is_empty() {
        return Err(format!("{what}: {EMPTY_RESPONSE}"));
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{what}: bad status line {status_line:?}"))?;
    let mut content_length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                content_length = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size_line = String::new();
            r.read_line(&mut size_line).map_err(io)?;
            let hex = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| format!("{what}: bad chunk size {size_line:?}"))?;
            if size == 0 {
                // Trailers until an empty line (or EOF).
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t).map_err(io)? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).map_err(io)?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).map_err(io)?;
        }
    } else if let Some(n) = content_length {
        body.resize(n, 0);
        r.read_exact(&mut body).map_err(io)?;
    } else {
        r.read_to_end(&mut body).map_err(io)?;
    }
    let value = if body.iter().all(|b| b.is_ascii_whitespace()) {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            format!(
                "{what}: HTTP {status}, body is not JSON ({e}): {}",
                String::from_utf8_lossy(&body[..body.len().min(500)])
            )
        })?
    };
    Ok((status, value))
}

/// Sends a WebDriver command; returns `value` or the WebDriver error.
///
/// tauri-driver 2.1.0 forwards each request over a pooled connection to
/// WebKitWebDriver; when that connection has gone stale it fails the request
/// before sending it on ("client error (SendRequest)" in its log) and closes ours
/// without a response. Such an empty answer is retried (the command never reached
/// the browser).
pub fn command(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> WdResult<Value> {
    let mut attempt = 0;
    let (status, v) = loop {
        attempt += 1;
        match http(port, method, path, body, timeout) {
            Err(e) if attempt < 4 && e.ends_with(EMPTY_RESPONSE) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => break other?,
        }
    };
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    let is_error = value.get("error").and_then(Value::as_str).is_some();
    if status >= 400 || is_error {
        let err = value.get("error").and_then(Value::as_str).unwrap_or("?");
        let msg = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{method} {path}: HTTP {status} {err}: {msg}"));
    }
    Ok(value)
}

/// A web element reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

impl Element {
    /// The JSON form, for script arguments.
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }

    fn from_json(v: &Value) -> WdResult<Element> {
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|s| Element(s.to_owned()))
            .ok_or_else(|| format!("not an element reference: {v}"))
    }
}

/// One WebDriver session (one app instance). Dropping it deletes the session,
/// which closes the app.
pub struct Session {
    /// The driver's port on 127.0.0.1.
    pub port: u16,
    /// The session id.
    pub id: String,
    /// A label for messages ("alice").
    pub label: String,
    deleted: bool,
}

const CMD_TIMEOUT: Duration = Duration::from_secs(30);

impl Session {
    /// POST /session with `capabilities` (the `alwaysMatch` object).
    pub fn new(port: u16, label: &str, always_match: Value) -> WdResult<Session> {
        let body = json!({ "capabilities": { "alwaysMatch": always_match } });
        let v = command(
            port,
            "POST",
            "/session",
            Some(&body),
            Duration::from_secs(120),
        )?;
        let id = v
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("new session: no sessionId in {v}"))?
            .to_owned();
        Ok(Session {
            port,
            id,
            label: label.to_owned(),
            deleted: false,
        })
    }

    /// DELETE /session/{id}.
    pub fn delete(&mut self) -> WdResult<()> {
        if self.deleted {
            return Ok(());
        }
        self.deleted = true;
        command(
            self.port,
            "DELETE",
            &format!("/session/{}", self.id),
            None,
            CMD_TIMEOUT,
        )
        .map(|_| ())
    }

    fn cmd(&self, method: &str, tail: &str, body: Option<Value>) -> WdResult<Value> {
        command(
            self.port,
            method,
            &format!("/session/{}{tail}", self.id),
            body.as_ref(),
            CMD_TIMEOUT,
        )
        .map_err(|e| format!("[{}] {e}", self.label))
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> WdResult<Element> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Element::from_json(&v)
    }

    /// All elements matching a CSS selector (possibly none).
    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        v.as_array()
            .ok_or_else(|| format!("find_all {css}: not a list: {v}"))?
            .iter()
            .map(Element::from_json)
            .collect()
    }

    /// Clicks an element.
    pub fn click(&self, el: &Element) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{}/click", el.0), None)
            .map(|_| ())
    }

    /// Types text into an element.
    pub fn send_keys(&self, el: &Element, text: &str) -> WdResult<()> {
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// The rendered text of an element.
    pub fn text(&self, el: &Element) -> WdResult<String> {
        let v = self.cmd("GET", &format!("/element/{}/text", el.0), None)?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// `textContent` through a script. WebKitWebDriver's Get Element Text treats
    /// some visible elements (ellipsised text in a flex item with `overflow:
    /// hidden`) as not displayed and returns "" for them; this does not.
    pub fn text_content(&self, el: &Element) -> WdResult<String> {
        let v = self.execute("return arguments[0].textContent;", vec![el.json()])?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute (`None` when absent).
    pub fn attribute(&self, el: &Element, name: &str) -> WdResult<Option<String>> {
        let v = self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Runs a synchronous script (a function body; `arguments[i]` are `args`). A
    /// returned Promise is awaited by the driver.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// PNG bytes of one element.
    pub fn element_screenshot(&self, el: &Element) -> WdResult<Vec<u8>> {
        let v = self.cmd("GET", &format!("/element/{}/screenshot", el.0), None)?;
        decode_b64(&v)
    }

    /// PNG bytes of the window's page.
    pub fn screenshot(&self) -> WdResult<Vec<u8>> {
        let v = self.cmd("GET", "/screenshot", None)?;
        decode_b64(&v)
    }

    /// The page's HTML.
    pub fn page_source(&self) -> WdResult<String> {
        let v = self.cmd("GET", "/source", None)?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// True when the element takes up space and is not `visibility: hidden`
    /// (hidden ancestors included).
    pub fn visible(&self, el: &Element) -> WdResult<bool> {
        let v = self.execute(
            "const e = arguments[0]; if (!e.isConnected || !e.getClientRects().length) return false; \
             return getComputedStyle(e).visibility !== 'hidden';",
            vec![el.json()],
        )?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Polls every 100 ms until an element matching `css` satisfies `pred`; returns
    /// it. A WebDriver error inside the loop counts as "not yet" (the page may be
    /// re-rendering); the last one is reported on timeout.
    pub fn wait_for(
        &self,
        css: &str,
        timeout: Duration,
        pred: impl Fn(&Session, &Element) -> WdResult<bool>,
    ) -> WdResult<Element> {
        let start = Instant::now();
        let mut last_err = String::from("no matching element");
        loop {
            match self.find_all(css) {
                Ok(els) => {
                    for el in els {
                        match pred(self, &el) {
                            Ok(true) => return Ok(el),
                            Ok(false) => last_err = "matching element(s) fail the condition".into(),
                            Err(e) => last_err = e,
                        }
                    }
                }
                Err(e) => last_err = e,
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "[{}] timed out after {timeout:?} waiting for `{css}` ({last_err})",
                    self.label
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for a visible element matching `css`.
    pub fn wait_visible(&self, css: &str, timeout: Duration) -> WdResult<Element> {
        self.wait_for(css, timeout, |s, e| s.visible(e))
    }

    /// Polls a script until it returns something truthy (not null/false/0/"");
    /// returns that value.
    pub fn wait_script(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> WdResult<Value> {
        let start = Instant::now();
        loop {
            let last = match self.execute(script, args.clone()) {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => v,
                Err(e) => Value::String(e),
            };
            if start.elapsed() > timeout {
                return Err(format!(
                    "[{}] timed out after {timeout:?} waiting for {what} (last: {last})",
                    self.label
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.delete();
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn decode_b64(v: &Value) -> WdResult<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("screenshot: not a string: {v}"))?;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("screenshot: bad base64: {e}"))
}
