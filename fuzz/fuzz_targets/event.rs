//! Events from clients (JSON) and entries from a log (canonical bytes): refused with a field
//! named, never a panic; an accepted event's canonical bytes decode back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepwise::evidence::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(event) = Event::from_json(text)
    {
        let bytes = event.canonical_bytes();
        let again = Event::from_entry(&bytes).expect("canonical bytes decode");
        assert_eq!(again.canonical_bytes(), bytes);
    }
    let _ = Event::from_entry(data);
});
