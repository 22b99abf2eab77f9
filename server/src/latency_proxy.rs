//! A TCP proxy that adds a fixed delay to every answer from the server behind it: what a
//! database on another machine costs (issue 21, `portal bench http --db-latency-ms 1`). For
//! benchmarks only, on 127.0.0.1.
//!
//! The delay is added to the server-to-client direction, so each round trip (query sent, answer
//! back) takes `delay` longer; bytes keep their order and the stream is not slowed otherwise: a
//! chunk read at time t is written at t + delay, while later chunks are already being read.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Listens on a free port of 127.0.0.1 and forwards each connection to `upstream`, delaying the
/// upstream's answers by `delay`. Returns the address to connect to.
pub async fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(upstream).await {
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    relay(client, server, delay).await;
                }
            });
        }
    });
    Ok(addr)
}

/// Copies both ways until either side closes.
async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let (mut client_read, mut client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut server_write = server_write;
    let to_server = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if server_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    };
    let to_client = async move {
        // Chunks wait in order in a queue until their time; the reader never waits for the writer.
        let (queue, mut due) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
        let mut server_read = server_read;
        let reader = async move {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match server_read.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if queue.send((tokio::time::Instant::now() + delay, buffer[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        };
        let writer = async move {
            while let Some((at, chunk)) = due.recv().await {
                tokio::time::sleep_until(at).await;
                if client_write.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let _ = client_write.shutdown().await;
        };
        tokio::join!(reader, writer);
    };
    tokio::join!(to_server, to_client);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server behind the proxy: the bytes come back whole and in order, and a round trip
    /// takes at least the delay.
    #[tokio::test]
    async fn answers_come_back_whole_in_order_and_late() {
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = echo.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let proxy = start(upstream, Duration::from_millis(20)).await.expect("proxy");
        let mut client = TcpStream::connect(proxy).await.expect("connect");
        let message: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let started = std::time::Instant::now();
        let (mut read, mut write) = client.split();
        let sending = async {
            write.write_all(&message).await.expect("write");
            write.shutdown().await.expect("shutdown");
        };
        let mut back = Vec::new();
        let receiving = async {
            read.read_to_end(&mut back).await.expect("read");
        };
        tokio::join!(sending, receiving);
        assert_eq!(back, message);
        assert!(started.elapsed() >= Duration::from_millis(20), "{:?}", started.elapsed());
    }
}
