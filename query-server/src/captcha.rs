//! Image captchas: six digits, as the original had, drawn into a PNG.
//!
//! Each captcha has a random 128-bit id, can be answered once (taking it
//! removes it, right or wrong) and expires after `captcha_seconds`. The
//! store is in memory and bounded: past `MAX_LIVE` the oldest go first.
//! A fixed answer for tests is a server setting, refused unless the server
//! listens on loopback only.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store::secret::random_bytes;

const MAX_LIVE: usize = 100_000;

/// Live captchas by id (digits, made at), and ids oldest first.
type Store = (HashMap<String, (String, Instant)>, VecDeque<String>);

pub struct Captchas {
    live: Mutex<Store>,
    ttl: Duration,
    fixed: Option<String>,
}

impl Captchas {
    pub fn new(ttl: Duration, fixed: Option<String>) -> Captchas {
        Captchas {
            live: Mutex::new((HashMap::new(), VecDeque::new())),
            ttl,
            fixed,
        }
    }

    /// A new captcha's id (an error only if the system has no randomness).
    pub fn create(&self) -> std::io::Result<String> {
        let id = schemas::hex(&random_bytes::<16>()?);
        let digits = match &self.fixed {
            Some(f) => f.clone(),
            None => {
                let r = random_bytes::<6>()?;
                r.iter().map(|b| char::from(b'0' + b % 10)).collect()
            }
        };
        let mut g = self.live.lock().expect("captchas");
        let (map, order) = &mut *g;
        while map.len() >= MAX_LIVE {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
        map.insert(id.clone(), (digits, Instant::now()));
        order.push_back(id.clone());
        Ok(id)
    }

    /// The digits of a live captcha (to draw it), without using it up.
    pub fn digits(&self, id: &str) -> Option<String> {
        let g = self.live.lock().expect("captchas");
        g.0.get(id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(d, _)| d.clone())
    }

    /// Uses a captcha up and says whether `answer` was right. Unknown,
    /// expired and already used ids are all simply wrong.
    pub fn take(&self, id: &str, answer: &str) -> bool {
        let mut g = self.live.lock().expect("captchas");
        let Some((digits, at)) = g.0.remove(id) else {
            return false;
        };
        at.elapsed() < self.ttl && digits == answer.trim()
    }

    /// Drops expired captchas.
    pub fn sweep(&self) {
        let mut g = self.live.lock().expect("captchas");
        let (map, order) = &mut *g;
        map.retain(|_, (_, at)| at.elapsed() < self.ttl);
        order.retain(|id| map.contains_key(id));
    }
}

/// 5×7 bitmaps of the digits, one row per byte (low 5 bits, left = 0x10).
const FONT: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

pub const WIDTH: u32 = 200;
pub const HEIGHT: u32 = 64;

/// Draws the digits: each scaled, sheared and shifted at random, over
/// noise lines and dots, as a grayscale PNG. An error only if the system
/// has no randomness (the encoder writes to memory).
pub fn png(digits: &str) -> std::io::Result<Vec<u8>> {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut img = vec![245u8; w * h];
    let noise = random_bytes::<256>()?;
    let mut k = 0usize;
    let mut next = || {
        k = (k + 1) % noise.len();
        noise[k] as usize
    };
    // Noise lines.
    for _ in 0..5 {
        let (y0, y1) = (next() % h, next() % h);
        let shade = 120 + (next() % 80) as u8;
        for x in 0..w {
            let y = y0 as isize + (y1 as isize - y0 as isize) * x as isize / w as isize;
            img[(y as usize).min(h - 1) * w + x] = shade;
        }
    }
    for (i, c) in digits.chars().take(6).enumerate() {
        let Some(d) = c.to_digit(10) else { continue };
        // Up to 25 × 35 pixels a digit plus shear, 31 apart: they never touch.
        let scale = 4 + next() % 2;
        let x0 = 8 + i * 31 + next() % 4;
        let y0 = 6 + next() % (h - 7 * 5 - 10);
        let shear = next() % 4;
        let shade = (next() % 60) as u8;
        for (row, bits) in FONT[d as usize].iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let y = y0 + row * scale + dy;
                        let x = x0 + col * scale + dx + (7 - row) * shear / 4;
                        if x < w && y < h {
                            img[y * w + x] = shade;
                        }
                    }
                }
            }
        }
    }
    // Dots.
    for _ in 0..200 {
        let (x, y) = (next() * w / 256, next() * h / 256);
        img[y * w + x] = (next() % 256) as u8;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&img)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captcha_works_once_and_expires() {
        let c = Captchas::new(Duration::from_millis(200), Some("123456".into()));
        let id = c.create().unwrap();
        assert_eq!(c.digits(&id).as_deref(), Some("123456"));
        assert!(!c.take(&id, "654321"));
        // Wrong once: used up, the right answer no longer works.
        assert!(!c.take(&id, "123456"));
        let id = c.create().unwrap();
        assert!(c.take(&id, "123456"));
        assert!(!c.take(&id, "123456"));
        let id = c.create().unwrap();
        std::thread::sleep(Duration::from_millis(250));
        assert!(!c.take(&id, "123456"));
    }

    #[test]
    fn random_captchas_are_six_digits_and_draw_as_png() {
        let c = Captchas::new(Duration::from_secs(60), None);
        let id = c.create().unwrap();
        let d = c.digits(&id).unwrap();
        assert_eq!(d.len(), 6);
        assert!(d.chars().all(|ch| ch.is_ascii_digit()));
        let img = png(&d).unwrap();
        assert_eq!(&img[1..4], b"PNG");
    }
}
