//! What the OpenTelemetry export costs a run: each round runs `tkr` on the
//! same workload twice, without an endpoint and with one (a receiver in
//! this process, on 127.0.0.1, standing in for a local collector), in an
//! order that alternates, and compares wall and CPU time round by round.
//! It exists so that the export's budget (5% of a 1,000-task run) is
//! checked with one command, against a receiver that answers as fast as a
//! collector, not a script's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::runner::{median, TkrBench};
use crate::BenchError;

/// What the receiver got, counted as it arrives.
#[derive(Debug, Default)]
pub struct Received {
    pub trace_requests: AtomicU64,
    pub metrics_requests: AtomicU64,
    pub bytes: AtomicU64,
}

/// An OTLP/HTTP receiver on 127.0.0.1 (a port of its own) that reads each
/// request whole and answers `200` on the same connection, one thread per
/// connection; it lives as long as this process.
#[derive(Debug)]
pub struct OtlpReceiver {
    pub url: String,
    pub received: Arc<Received>,
}

impl OtlpReceiver {
    pub fn start() -> std::io::Result<OtlpReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(Received::default());
        let counts = Arc::clone(&received);
        std::thread::Builder::new()
            .name("otlp-receiver".to_string())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let counts = Arc::clone(&counts);
                    std::thread::spawn(move || serve(stream, &counts));
                }
            })?;
        Ok(OtlpReceiver { url, received })
    }
}

/// Serves one connection until the client closes it.
fn serve(stream: TcpStream, counts: &Received) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut writer = writer;
    let mut reader = BufReader::new(stream);
    loop {
        let mut path = String::new();
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if path.is_empty() {
                path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            } else if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            } else if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let counter = match path.as_str() {
            "/v1/traces" => &counts.trace_requests,
            "/v1/metrics" => &counts.metrics_requests,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        counts.bytes.fetch_add(length as u64, Ordering::Relaxed);
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// One round: the run without the export, then with it (or the other way
/// round).
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub without: (Duration, Duration),
    pub with: (Duration, Duration),
}

/// The rounds of an `otlp-cost` series.
#[derive(Debug, Clone)]
pub struct OtlpCost {
    pub rounds: Vec<Round>,
}

/// Runs `rounds` rounds of `bench` (its `repeat` and `otlp_endpoint` are
/// set here) for size `n` in folders under `scratch`, alternating which run
/// goes first. Fails when a run with the export sent no spans.
pub fn measure(
    bench: &TkrBench,
    n: u64,
    rounds: u32,
    scratch: &Path,
) -> Result<OtlpCost, BenchError> {
    let receiver = OtlpReceiver::start().map_err(|source| BenchError::Io {
        path: "127.0.0.1 (the OTLP receiver)".into(),
        source,
    })?;
    let without = TkrBench {
        repeat: 1,
        otlp_endpoint: None,
        ..bench.clone()
    };
    let with = TkrBench {
        otlp_endpoint: Some(receiver.url.clone()),
        ..without.clone()
    };
    let once = |b: &TkrBench| -> Result<(Duration, Duration), BenchError> {
        let stats = b.run(n, scratch)?;
        Ok((stats.walls[0], stats.cpus[0]))
    };
    let mut out = Vec::new();
    for round in 0..rounds.max(1) {
        let before = receiver.received.trace_requests.load(Ordering::Relaxed);
        let (without, with) = if round % 2 == 0 {
            let a = once(&without)?;
            (a, once(&with)?)
        } else {
            let b = once(&with)?;
            (once(&without)?, b)
        };
        if receiver.received.trace_requests.load(Ordering::Relaxed) == before {
            return Err(BenchError::NoSpansExported {
                program: bench.tkr.display().to_string(),
                workload: bench.workload.name(),
                n,
                url: receiver.url.clone(),
            });
        }
        out.push(Round { without, with });
    }
    Ok(OtlpCost { rounds: out })
}

impl OtlpCost {
    /// Median wall and CPU time without and with the export, and the
    /// median of the rounds' differences (each round's two runs saw the
    /// same machine), as markdown rows.
    pub fn markdown(&self) -> String {
        let pick =
            |f: fn(&Round) -> Duration| -> Vec<Duration> { self.rounds.iter().map(f).collect() };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let paired = |f: fn(&Round) -> (Duration, Duration)| -> f64 {
            let mut diffs: Vec<f64> = self
                .rounds
                .iter()
                .map(|r| {
                    let (without, with) = f(r);
                    ms(with) - ms(without)
                })
                .collect();
            diffs.sort_by(f64::total_cmp);
            match diffs.len() {
                0 => 0.0,
                n if n % 2 == 1 => diffs[n / 2],
                n => (diffs[n / 2 - 1] + diffs[n / 2]) / 2.0,
            }
        };
        let wall_without = ms(median(&pick(|r| r.without.0)));
        let wall_with = ms(median(&pick(|r| r.with.0)));
        let cpu_without = ms(median(&pick(|r| r.without.1)));
        let cpu_with = ms(median(&pick(|r| r.with.1)));
        let wall_paired = paired(|r| (r.without.0, r.with.0));
        let cpu_paired = paired(|r| (r.without.1, r.with.1));
        let percent = |d: f64, base: f64| if base > 0.0 { 100.0 * d / base } else { 0.0 };
        format!(
            "| time | rounds | without export ms | with export ms | paired difference ms | paired % |\n\
             |---|---:|---:|---:|---:|---:|\n\
             | wall | {n} | {wall_without:.1} | {wall_with:.1} | {wall_paired:+.1} | {:+.1}% |\n\
             | CPU | {n} | {cpu_without:.1} | {cpu_with:.1} | {cpu_paired:+.1} | {:+.1}% |",
            percent(wall_paired, wall_without),
            percent(cpu_paired, cpu_without),
            n = self.rounds.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_answers_each_request_on_a_kept_connection_and_counts_it() {
        let receiver = OtlpReceiver::start().expect("receiver");
        let address = receiver.url.trim_start_matches("http://").to_string();
        let mut stream = TcpStream::connect(&address).expect("connect");
        for path in ["/v1/traces", "/v1/metrics", "/v1/traces"] {
            let request =
                format!("POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 3\r\n\r\nabc");
            stream.write_all(request.as_bytes()).expect("send");
            let mut answer = [0u8; 38];
            stream.read_exact(&mut answer).expect("answer");
            assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        }
        let received = &receiver.received;
        assert_eq!(received.trace_requests.load(Ordering::Relaxed), 2);
        assert_eq!(received.metrics_requests.load(Ordering::Relaxed), 1);
        assert_eq!(received.bytes.load(Ordering::Relaxed), 9);
    }

    #[test]
    fn differences_are_paired_per_round() {
        let ms = Duration::from_millis;
        let cost = OtlpCost {
            rounds: vec![
                Round {
                    without: (ms(100), ms(50)),
                    with: (ms(103), ms(52)),
                },
                Round {
                    without: (ms(200), ms(60)),
                    with: (ms(202), ms(61)),
                },
                Round {
                    without: (ms(150), ms(55)),
                    with: (ms(154), ms(58)),
                },
            ],
        };
        let table = cost.markdown();
        assert!(
            table.contains("| wall | 3 | 150.0 | 154.0 | +3.0 | +2.0% |"),
            "{table}"
        );
        assert!(
            table.contains("| CPU | 3 | 55.0 | 58.0 | +2.0 | +3.6% |"),
            "{table}"
        );
    }
}
