//! Scans over the long parts of a request (a 400-byte token, a query carrying one), eight bytes at
//! a time. In wasm, `core`'s byte search reads four bytes at a time and its comparison one, so a
//! token read three or four times was a noticeable share of a request; natively the results are
//! the same and the standard library's SIMD routines are used where they exist.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte of `word` that is zero, and no other bit.
fn zero_bytes(word: u64) -> u64 {
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// The high bit of every byte of `word` equal to `byte`, and no other bit.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ ONES.wrapping_mul(u64::from(byte)))
}

/// Whether some byte of `word` is outside visible ASCII (`0x21..=0x7e`).
fn has_invisible(word: u64) -> bool {
    // Below 0x21: the borrow of `b - 0x21` reaches the high bit of a byte that had none.
    let below = word.wrapping_sub(ONES.wrapping_mul(0x21)) & !word;
    // Above 0x7e: `b + 1` reaches the high bit, or it was set already.
    let above = word.wrapping_add(ONES) | word;
    (below | above) & HIGH != 0
}

fn words(bytes: &[u8]) -> (impl Iterator<Item = u64> + '_, &[u8]) {
    let chunks = bytes.chunks_exact(8);
    let tail = chunks.remainder();
    let words = chunks.map(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    });
    (words, tail)
}

/// The number of `.` in `text` if every byte of it is visible ASCII (`0x21..=0x7e`), else `None`.
pub fn visible_ascii_dots(text: &[u8]) -> Option<usize> {
    let (words, tail) = words(text);
    let mut dots = 0usize;
    for w in words {
        if has_invisible(w) {
            return None;
        }
        // Most words hold no dot: count bits only in those that do.
        let found = bytes_equal(w, b'.');
        if found != 0 {
            dots += found.count_ones() as usize;
        }
    }
    for &b in tail {
        match b {
            b'.' => dots += 1,
            0x21..=0x7e => {}
            _ => return None,
        }
    }
    Some(dots)
}

/// What [`scan_query`] found in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryScan {
    /// Every byte is visible ASCII and none is `#`.
    pub plain: bool,
    /// It has a `;`.
    pub semicolon: bool,
}

/// One pass over a raw query: whether it is usable as is, and whether it has a `;`.
pub fn scan_query(query: &[u8]) -> QueryScan {
    let (words, tail) = words(query);
    let mut semicolon = false;
    for w in words {
        if has_invisible(w) || bytes_equal(w, b'#') != 0 {
            return QueryScan {
                plain: false,
                semicolon,
            };
        }
        semicolon |= bytes_equal(w, b';') != 0;
    }
    for &b in tail {
        if !(0x21..=0x7e).contains(&b) || b == b'#' {
            return QueryScan {
                plain: false,
                semicolon,
            };
        }
        semicolon |= b == b';';
    }
    QueryScan {
        plain: true,
        semicolon,
    }
}

/// Whether `text` contains `a` or `b`.
pub fn contains_either(text: &[u8], a: u8, b: u8) -> bool {
    if cfg!(target_family = "wasm") {
        contains_either_by_words(text, a, b)
    } else {
        text.iter().any(|&c| c == a || c == b)
    }
}

fn contains_either_by_words(text: &[u8], a: u8, b: u8) -> bool {
    let (words, tail) = words(text);
    for w in words {
        if bytes_equal(w, a) | bytes_equal(w, b) != 0 {
            return true;
        }
    }
    tail.iter().any(|&c| c == a || c == b)
}

/// Whether `a` and `b` are the same bytes.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    if cfg!(target_family = "wasm") {
        equal_by_words(a, b)
    } else {
        a == b
    }
}

fn equal_by_words(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let ((wa, ta), (wb, tb)) = (words(a), words(b));
    wa.zip(wb).all(|(x, y)| x == y) && ta == tb
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every answer against the byte-by-byte definition, for every byte at every position of
    /// words and tails.
    #[test]
    fn every_scan_agrees_with_the_plain_definition() {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in 0..20 {
            for at in 0..len.max(1) {
                for b in 0..=255u8 {
                    let mut t = vec![b'a'; len];
                    if let Some(slot) = t.get_mut(at) {
                        *slot = b;
                    }
                    texts.push(t);
                }
            }
        }
        texts.push(b"eyJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiYSJ9.c2lnbmF0dXJl".to_vec());
        for t in &texts {
            let dots = t
                .iter()
                .all(|b| (0x21..=0x7e).contains(b))
                .then(|| t.iter().filter(|&&b| b == b'.').count());
            assert_eq!(visible_ascii_dots(t), dots, "{t:?}");
            let want = QueryScan {
                plain: t.iter().all(|b| (0x21..=0x7e).contains(b) && *b != b'#'),
                semicolon: t.contains(&b';'),
            };
            let got = scan_query(t);
            assert_eq!(got.plain, want.plain, "{t:?}");
            if got.plain {
                assert_eq!(got.semicolon, want.semicolon, "{t:?}");
            }
            // The word-wise forms wasm uses, checked here too.
            for found in [
                contains_either(t, b'%', b'+'),
                contains_either_by_words(t, b'%', b'+'),
            ] {
                assert_eq!(found, t.contains(&b'%') || t.contains(&b'+'), "{t:?}");
            }
            for eq in [equal, equal_by_words] {
                let mut other = t.clone();
                assert!(eq(t, &other));
                if let Some(last) = other.last_mut() {
                    *last ^= 1;
                    assert!(!eq(t, &other));
                }
                other.push(b'x');
                assert!(!eq(t, &other));
            }
        }
    }
}
