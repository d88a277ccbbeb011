//! Dates and times through the browser's `Intl.DateTimeFormat`, one cached formatter per
//! locale and style (building a formatter is far slower than using one).

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Date, Function, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::i18n::Locale;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Style {
    Time,
    Day,
}

thread_local! {
    static FORMATTERS: RefCell<HashMap<(Locale, Style), Function>> = RefCell::new(HashMap::new());
    /// Timestamp → local day number: a transcript recomputes dividers on every change, and a
    /// JS `Date` per message per change would dominate that for long transcripts.
    static DAYS: RefCell<HashMap<u64, u32>> = RefCell::new(HashMap::new());
}

/// Bound on the day cache (cleared when full; it refills from the visible transcript).
const MAX_CACHED_DAYS: usize = 50_000;

fn formatter(locale: Locale, style: Style) -> Function {
    FORMATTERS.with(|cache| {
        cache
            .borrow_mut()
            .entry((locale, style))
            .or_insert_with(|| {
                let options = Object::new();
                let pairs: &[(&str, &str)] = match style {
                    Style::Time => &[("hour", "numeric"), ("minute", "2-digit")],
                    Style::Day => &[("weekday", "long"), ("day", "numeric"), ("month", "long")],
                };
                for (key, value) in pairs {
                    let _ = Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value));
                }
                let locales = Array::of1(&JsValue::from_str(locale.tag()));
                js_sys::Intl::DateTimeFormat::new(&locales, &options).format()
            })
            .clone()
    })
}

fn format(locale: Locale, style: Style, millis: u64) -> String {
    let date = Date::new(&JsValue::from_f64(millis as f64));
    formatter(locale, style).call1(&JsValue::NULL, &date).ok().and_then(|value| value.as_string()).unwrap_or_default()
}

/// "14:05" / "2:05 PM", as the locale writes it.
pub fn time(locale: Locale, millis: u64) -> String {
    format(locale, Style::Time, millis)
}

/// "Monday, 3 March", for date dividers.
pub fn day(locale: Locale, millis: u64) -> String {
    format(locale, Style::Day, millis)
}

/// The local calendar day of a timestamp, comparable between messages.
pub fn day_number(millis: u64) -> u32 {
    if let Some(day) = DAYS.with(|days| days.borrow().get(&millis).copied()) {
        return day;
    }
    let date = Date::new(&JsValue::from_f64(millis as f64));
    let day = date.get_full_year() * 10_000 + date.get_month() * 100 + date.get_date();
    DAYS.with(|days| {
        let mut days = days.borrow_mut();
        if days.len() >= MAX_CACHED_DAYS {
            days.clear();
        }
        days.insert(millis, day);
    });
    day
}
