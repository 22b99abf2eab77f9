//! FHIR R4 import, the pure half: reading a file into resources (`parse`), checking dates
//! (`dates`), mapping each resource to the rows the portal shows (`map`) and tagging sensitive
//! categories from codes (`sensitive`). The database half is `backend::access::import`, behind
//! the access context like every other write of patient data.

pub mod dates;
pub mod map;
pub mod parse;
pub mod sensitive;

#[cfg(test)]
mod robustness {
    use super::{map, parse};

    const SMALL: &str = include_str!("../../../../tests/fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json");

    /// Reads and maps `bytes` the way the importer does; any outcome but a panic is fine.
    fn read_all(bytes: &[u8]) {
        let limits = parse::Limits::default();
        let Ok(text) = parse::text(bytes, &limits) else { return };
        let Ok(file) = parse::parse(text, &limits) else { return };
        for entry in &file.entries {
            if let Ok(value) = parse::resource(entry, &limits) {
                let _ = map::map(&entry.resource_type, &value);
            }
        }
    }

    #[test]
    fn the_reader_never_panics_on_mangled_bundles() {
        // A fixed-seed generator: the same mangled inputs on every run.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let original = SMALL.as_bytes();
        for round in 0..60 {
            let mut bytes = original.to_vec();
            match round % 3 {
                0 => bytes.truncate((next() as usize) % original.len()),
                1 => {
                    for _ in 0..8 {
                        let at = (next() as usize) % bytes.len();
                        let table = b"{}[]\",:0-9eE\\\x00\xff";
                        bytes[at] = table[(next() as usize) % table.len()];
                    }
                }
                _ => {
                    let at = (next() as usize) % bytes.len();
                    let len = ((next() as usize) % 400).min(bytes.len() - at);
                    bytes.drain(at..at + len);
                }
            }
            read_all(&bytes);
        }
        // And values of the wrong JSON type where the mapper expects others.
        let odd = SMALL.replace("\"effectiveDateTime\"", "\"effectiveDateTime\":{\"x\":1},\"was\"").replace("\"coding\": [", "\"coding\": [1, null, \"x\", ");
        read_all(odd.as_bytes());
    }
}
