//! [`Http`] over `fetch` (GET: config.json, history pages) and `XMLHttpRequest` (attachment PUT,
//! because only XHR reports upload progress).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ProgressEvent, Request, RequestInit, Response, XmlHttpRequest};

use super::{Http, HttpDone, HttpResponse, UploadDone, UploadProgress};

/// Largest response body read (history pages are a few hundred KB at most).
const MAX_BODY_CHARS: usize = 16 * 1024 * 1024;

/// The production HTTP client.
#[derive(Default)]
pub struct BrowserHttp;

impl Http for BrowserHttp {
    fn request(&self, method: &str, url: &str, bearer: Option<&str>, json_body: Option<&str>, done: HttpDone) {
        let request = match build_request(method, url, bearer, json_body) {
            Ok(request) => request,
            Err(message) => return done(Err(message)),
        };
        let Some(window) = web_sys::window() else { return done(Err("no window".into())) };
        let promise = window.fetch_with_request(&request);
        wasm_bindgen_futures::spawn_local(async move {
            done(read_response(JsFuture::from(promise).await).await);
        });
    }

    fn put_file(&self, url: &str, headers: &[(String, String)], file: &web_sys::File, progress: UploadProgress, done: UploadDone) {
        let done = Rc::new(RefCell::new(Some(done)));
        if start_upload(url, headers, file, progress, done.clone()).is_err() {
            if let Some(done) = done.borrow_mut().take() {
                done(Err("the upload could not start".into()));
            }
        }
    }
}

fn build_request(method: &str, url: &str, bearer: Option<&str>, json_body: Option<&str>) -> Result<Request, String> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = json_body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(|_| format!("invalid URL {url:?}"))?;
    if json_body.is_some() {
        request.headers().set("Content-Type", "application/json").map_err(|_| "invalid header".to_string())?;
    }
    if let Some(jwt) = bearer {
        request.headers().set("Authorization", &format!("bearer {jwt}")).map_err(|_| "invalid bearer token".to_string())?;
    }
    Ok(request)
}

async fn read_response(result: Result<JsValue, JsValue>) -> Result<HttpResponse, String> {
    let response: Response = result.map_err(|_| "network error".to_string())?.dyn_into().map_err(|_| "not a response".to_string())?;
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|value| value.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if text.len() > MAX_BODY_CHARS {
        return Err("response too large".into());
    }
    Ok(HttpResponse { status, body: text })
}

type Handlers = (Closure<dyn FnMut(ProgressEvent)>, Closure<dyn FnMut(web_sys::Event)>, Closure<dyn FnMut(web_sys::Event)>);

type SharedDone = Rc<RefCell<Option<UploadDone>>>;

/// Starts the PUT. On `Err` nothing was sent and `done` has not been called.
fn start_upload(url: &str, headers: &[(String, String)], file: &web_sys::File, progress: UploadProgress, done: SharedDone) -> Result<(), JsValue> {
    let request = XmlHttpRequest::new()?;
    request.open_with_async("PUT", url, true)?;
    for (name, value) in headers {
        request.set_request_header(name, value)?;
    }
    let mime = file.type_();
    request.set_request_header("Content-Type", if mime.is_empty() { "application/octet-stream" } else { &mime })?;

    // The handlers must outlive the request; they drop themselves once it finishes.
    let holder: Rc<RefCell<Option<Handlers>>> = Rc::new(RefCell::new(None));
    let finish = {
        let holder = holder.clone();
        let done = done.clone();
        move |result: Result<u16, String>| {
            if let Some(done) = done.borrow_mut().take() {
                done(result);
            }
            // Drop the closures after this handler returns, not while it runs.
            let handlers = holder.borrow_mut().take();
            wasm_bindgen_futures::spawn_local(async move { drop(handlers) });
        }
    };
    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
        if event.length_computable() && event.total() > 0.0 {
            let percent = (event.loaded() / event.total() * 100.0).clamp(0.0, 100.0);
            progress(percent as u32);
        }
    });
    let on_load = {
        let finish = finish.clone();
        let request = request.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| finish(Ok(request.status().unwrap_or(0))))
    };
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| finish(Err("network error".into())));
    request.upload()?.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    request.set_onload(Some(on_load.as_ref().unchecked_ref()));
    request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    *holder.borrow_mut() = Some((on_progress, on_load, on_error));
    if let Err(error) = request.send_with_opt_blob(Some(file)) {
        holder.borrow_mut().take();
        return Err(error);
    }
    Ok(())
}
