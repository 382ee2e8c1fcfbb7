//! ClickHouse's RowBinary input format: each row's columns in table order, numbers
//! little-endian, strings and arrays as a LEB128 length then their items. Several times
//! cheaper for both ends than a text format.

/// Rows being encoded.
#[derive(Debug, Default)]
pub struct RowBinary {
    pub bytes: Vec<u8>,
}

impl RowBinary {
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    pub fn i8(&mut self, v: i8) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// A `Date`: days since 1970-01-01, clamped to the type's range (1970–2149).
    pub fn date(&mut self, days: i32) {
        let days = u16::try_from(days.max(0)).unwrap_or(u16::MAX);
        self.bytes.extend_from_slice(&days.to_le_bytes());
    }

    /// A `DateTime` from ms since the epoch: whole seconds, clamped to 1970–2106.
    pub fn date_time(&mut self, ms: i64) {
        let s = u32::try_from(ms.div_euclid(1000).max(0)).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&s.to_le_bytes());
    }

    fn length(&mut self, mut n: usize) {
        loop {
            #[allow(clippy::cast_possible_truncation)]
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.bytes.push(low);
                return;
            }
            self.bytes.push(low | 0x80);
        }
    }

    pub fn string(&mut self, s: &str) {
        self.length(s.len());
        self.bytes.extend_from_slice(s.as_bytes());
    }

    pub fn u32_array(&mut self, items: &[u32]) {
        self.length(items.len());
        for v in items {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
    }

    pub fn u8_array(&mut self, items: &[u8]) {
        self.length(items.len());
        self.bytes.extend_from_slice(items);
    }

    pub fn u64_array(&mut self, items: &[u64]) {
        self.length(items.len());
        for v in items {
            self.u64(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_leb128() {
        let mut r = RowBinary::default();
        r.string("ab");
        r.length(300);
        assert_eq!(r.bytes, vec![2, b'a', b'b', 0xac, 0x02]);
    }

    #[test]
    fn times_are_clamped_to_their_types() {
        let mut r = RowBinary::default();
        r.date(-3);
        r.date_time(1_343_440_800_999);
        assert_eq!(r.bytes, vec![0, 0, 0xa0, 0x47, 0x13, 0x50]);
    }
}
