//! The audio alternative: the six digits read in Mandarin, for people who
//! cannot see the picture.
//!
//! The clips are espeak-ng's (`data/captcha/<digit>.wav`, made by
//! `scripts/make-captcha-audio`, compiled in). Each answer is mixed anew:
//! a random lead-in, a random gap after each digit, each clip's speed
//! (±10 %) and loudness jittered, a murmur of reversed clips and a soft
//! rumble of noise under it all, so no two answers have the same bytes
//! and the clips cannot be found by comparing bytes. It is meant to stay
//! easy to follow for a person: the noise sits well below the voice.

use std::sync::OnceLock;

use super::draw::Rng;

const CLIPS: [&[u8]; 10] = [
    include_bytes!("../../data/captcha/0.wav"),
    include_bytes!("../../data/captcha/1.wav"),
    include_bytes!("../../data/captcha/2.wav"),
    include_bytes!("../../data/captcha/3.wav"),
    include_bytes!("../../data/captcha/4.wav"),
    include_bytes!("../../data/captcha/5.wav"),
    include_bytes!("../../data/captcha/6.wav"),
    include_bytes!("../../data/captcha/7.wav"),
    include_bytes!("../../data/captcha/8.wav"),
    include_bytes!("../../data/captcha/9.wav"),
];

struct Voice {
    rate: u32,
    clips: Vec<Vec<f32>>,
}

/// The clips as samples in [-1, 1]; they were checked when they were
/// made, and the tests read them, so a bad one is a build mistake.
fn voice() -> &'static Voice {
    static VOICE: OnceLock<Voice> = OnceLock::new();
    VOICE.get_or_init(|| {
        let mut rate = 0;
        let clips = CLIPS
            .iter()
            .map(|bytes| {
                let (r, samples) = read_pcm16(bytes).expect("a 16-bit mono PCM WAV clip");
                assert!(rate == 0 || rate == r, "clips of one sample rate");
                rate = r;
                samples
            })
            .collect();
        Voice { rate, clips }
    })
}

/// The sample rate and samples of a mono 16-bit PCM WAV file.
fn read_pcm16(b: &[u8]) -> Option<(u32, Vec<f32>)> {
    if b.get(..4)? != b"RIFF" || b.get(8..12)? != b"WAVE" {
        return None;
    }
    let (mut at, mut rate, mut data) = (12, None, None);
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().ok()?) as usize;
        let body = b.get(at + 8..at + 8 + len)?;
        match id {
            b"fmt " => {
                let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                // PCM, one channel, 16 bits.
                if body.len() < 16 || u16_at(0) != 1 || u16_at(2) != 1 || u16_at(14) != 16 {
                    return None;
                }
                rate = Some(u32::from_le_bytes(body[4..8].try_into().ok()?));
            }
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let samples = data?
        .chunks_exact(2)
        .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
        .collect();
    Some((rate?, samples))
}

/// A clip played `speed` times as fast (linear interpolation: pitch moves
/// with it, as on tape).
fn resample(clip: &[f32], speed: f32) -> impl Iterator<Item = f32> + '_ {
    let n = (clip.len() as f32 / speed) as usize;
    (0..n).map(move |i| {
        let pos = i as f32 * speed;
        let k = pos as usize;
        let t = pos - k as f32;
        let a = clip[k.min(clip.len() - 1)];
        let b = clip[(k + 1).min(clip.len() - 1)];
        a + (b - a) * t
    })
}

/// The digits read aloud, as a WAV file (mono 16-bit PCM at the clips'
/// rate), mixed from fresh randomness.
pub fn wav(digits: &str) -> Vec<u8> {
    let seed = u64::from_le_bytes(store::secret::random_bytes::<8>().expect("randomness"));
    wav_seeded(digits, seed)
}

/// The same, from a seed.
pub fn wav_seeded(digits: &str, seed: u64) -> Vec<u8> {
    let v = voice();
    let rate = v.rate as f32;
    let mut r = Rng::new(seed);
    let secs = |r: &mut Rng, lo: f32, hi: f32| (r.range(lo, hi) * rate) as usize;
    let mut out: Vec<f32> = vec![0.0; secs(&mut r, 0.4, 0.7)];
    let digits: Vec<usize> = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| usize::from(b - b'0'))
        .collect();
    for (i, &d) in digits.iter().enumerate() {
        let (speed, gain) = (r.range(0.9, 1.1), r.range(0.6, 0.9));
        out.extend(resample(&v.clips[d], speed).map(|s| s * gain));
        let gap = if i + 1 == digits.len() {
            secs(&mut r, 0.3, 0.5)
        } else {
            secs(&mut r, 0.35, 0.75)
        };
        out.resize(out.len() + gap, 0.0);
    }
    // A murmur: reversed clips, quiet, anywhere.
    for _ in 0..4 + r.below(3) {
        let clip = &v.clips[r.below(10)];
        let (speed, gain) = (r.range(0.8, 1.2), r.range(0.06, 0.12));
        let at = r.below(out.len().max(1));
        let rev: Vec<f32> = clip.iter().rev().copied().collect();
        for (k, s) in resample(&rev, speed).enumerate() {
            if let Some(o) = out.get_mut(at + k) {
                *o += s * gain;
            }
        }
    }
    // Rumble and hiss: low-passed and white noise.
    let (low, hiss) = (r.range(0.04, 0.07), r.range(0.01, 0.025));
    let mut lp = 0.0f32;
    for o in out.iter_mut() {
        let white = r.unit() * 2.0 - 1.0;
        lp = 0.95 * lp + 0.05 * white;
        *o += lp * low * 4.0 + (r.unit() * 2.0 - 1.0) * hiss;
    }
    pcm16_wav(v.rate, &out)
}

fn pcm16_wav(rate: u32, samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + samples.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes a second
    b.extend_from_slice(&2u16.to_le_bytes()); // bytes a frame
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clips_are_ten_short_mono_clips_of_one_rate() {
        let v = voice();
        assert!(v.rate == 8_000 || v.rate == 16_000, "{}", v.rate);
        for (d, c) in v.clips.iter().enumerate() {
            let secs = c.len() as f32 / v.rate as f32;
            assert!((0.15..0.8).contains(&secs), "{d}: {secs} s");
            let peak = c.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!(peak > 0.5, "{d}: peak {peak}");
        }
        let total: usize = CLIPS.iter().map(|c| c.len()).sum();
        assert!(total < 200 * 1024, "{total} bytes of clips");
    }

    #[test]
    fn an_answer_is_a_wav_of_some_seconds_and_never_the_same_bytes() {
        let a = wav("012345");
        let b = wav("012345");
        assert_ne!(a, b);
        for w in [&a, &b, &wav("999999"), &wav_seeded("101010", 0)] {
            let (rate, samples) = read_pcm16(w).expect("a valid WAV");
            assert_eq!(&w[..4], b"RIFF");
            assert_eq!(
                u32::from_le_bytes(w[4..8].try_into().unwrap()) as usize,
                w.len() - 8
            );
            let secs = samples.len() as f32 / rate as f32;
            assert!((3.0..9.0).contains(&secs), "{secs} s");
            let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!((0.3..1.0).contains(&peak), "peak {peak}");
        }
        // The voice stands well above the noise: the loudest tenth of a
        // second is several times the quietest.
        let (rate, s) = read_pcm16(&a).unwrap();
        let win = rate as usize / 10;
        let rms: Vec<f32> = s
            .chunks(win)
            .map(|c| (c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32).sqrt())
            .collect();
        let (lo, hi) = rms
            .iter()
            .fold((f32::MAX, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        assert!(hi > 4.0 * lo, "loudest {hi}, quietest {lo}");
    }
}
