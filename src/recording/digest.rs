//! The two digests the recording's cache relies on, in one place: names that must stay
//! the same across builds and versions ([`fnv1a`]), and checks that kept bytes are those
//! written ([`crc32`]).

/// FNV-1a over bytes: stable across builds and versions, unlike std's hasher; enough to
/// tell kept things apart by name.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The CRC-32 of kept bytes (an index's body, a probe book's copy): zlib-rs computes it
/// at gigabytes a second, so checking the 17-day event's 9 MB index costs a few
/// milliseconds of each frame.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}
