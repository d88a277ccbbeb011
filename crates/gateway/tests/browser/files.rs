//! Files for the end-to-end tests: a PNG made on the spot, picked in the messenger's file
//! input, and the attachments the gateway stored.

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::harness::Env;
use crate::loopback_http::{raw_request, RawResponse};
use crate::messenger::ShownMessage;

/// True when a message of DIRECTION shows an `<img>` that finished loading with real pixels.
const IMAGE_LOADED_JS: &str = "Array.from(document.querySelectorAll('[data-testid=message][data-direction=DIRECTION] img'))\
    .some(i => i.complete && i.naturalWidth > 0)";

impl Env {
    /// Waits (10 s) until a message of `direction` (`inbound`, `outbound`) shows an `<img>`
    /// that finished loading with real pixels.
    pub(crate) async fn wait_image_loaded(&self, direction: &str) {
        self.wait_js(&IMAGE_LOADED_JS.replace("DIRECTION", direction), json!(true), 10).await;
    }
}

/// The customer's own image message once it is sent.
pub(crate) fn own_image(shown: &[ShownMessage]) -> Option<&ShownMessage> {
    shown.iter().find(|m| m.direction == "inbound" && m.images > 0 && m.status == "sent")
}

/// The `Attachment` contents of the server's transcript for `token`, oldest first, with the
/// session they were read from (for failure messages).
pub(crate) fn server_attachments(env: &Env, token: &str, deployment: &str) -> (Value, Vec<Value>) {
    let session = env.session(token, deployment);
    let attachments = session["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|body| body["content"].as_array().cloned().unwrap_or_default())
        .filter(|content| content["contentType"] == "Attachment")
        .collect();
    (session, attachments)
}

/// Downloads a stored `Attachment` content (one of [`server_attachments`]) from the gateway.
pub(crate) fn download_attachment(env: &Env, attachment: &Value) -> RawResponse {
    let url = attachment["attachment"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("the stored attachment has no url: {attachment}"));
    let path = url
        .strip_prefix(&env.base)
        .unwrap_or_else(|| panic!("attachment url {url} is not on the gateway {}", env.base));
    raw_request(env.gateway_addr(), "GET", path, None).expect("download the attachment")
}

/// Writes `png` to the test's scratch folder as `name` and picks it in the messenger's file input.
pub(crate) async fn choose_png(env: &Env, name: &str, png: &[u8]) {
    let path = env.scratch_path(name);
    std::fs::write(&path, png).expect("write the test PNG");
    file_input(env).await.send_keys(&path.to_string_lossy()).await.expect("choose the file");
}

/// The messenger's file input (inside the attach control, else anywhere in the messenger).
async fn file_input(env: &Env) -> fantoccini::elements::Element {
    env.wait_for("[data-testid=attach]", 5).await;
    for css in ["[data-testid=attach] input[type=file]", "[data-testid=messenger] input[type=file]", "input[type=file]"] {
        if let Ok(input) = env.client.find(Locator::Css(css)).await {
            return input;
        }
    }
    env.failure_screenshot().await;
    panic!("no input[type=file] for the attach control");
}

/// A valid RGB PNG of one colour (zlib "stored" blocks, so no compressor is needed).
pub(crate) fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut raw = Vec::new();
    for _ in 0..height {
        raw.push(0); // filter type None
        for _ in 0..width {
            raw.extend_from_slice(&rgb);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65_535).peekable();
    while let Some(block) = chunks.next() {
        zlib.push(u8::from(chunks.peek().is_none()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &zlib), (b"IEND", &[])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn solid_png_is_well_formed() {
    let png = solid_png(3, 2, [1, 2, 3]);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The CRC of an empty IEND chunk is a well-known constant.
    assert_eq!(&png[png.len() - 4..], &[0xAE, 0x42, 0x60, 0x82]);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
}
