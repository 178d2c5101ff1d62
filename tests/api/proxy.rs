//! Self-test of the shared cuttable proxy ([`crate::common::proxy::TcpProxy`]), which the API
//! tests use to play a database outage.

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use crate::common::proxy::TcpProxy;

    /// An upstream that echoes every byte back.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = stream.split();
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        });
        address
    }

    async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0; message.len()];
        stream.read_exact(&mut echoed).await.unwrap();
        echoed
    }

    /// Proves the proxy forwards, that a cut closes live connections and refuses new ones, and
    /// that a restore serves again on the same port.
    #[tokio::test]
    async fn a_cut_proxy_drops_live_connections_refuses_new_ones_and_restores_on_the_same_port() {
        // Arrange
        let proxy = TcpProxy::start(echo_server().await).await;
        let mut before = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut before, b"ping").await, b"ping");
        assert_eq!(proxy.live_connections(), 1);

        // Act
        proxy.cut().await;

        // Assert
        assert!(proxy.is_cut());
        assert_eq!(proxy.live_connections(), 0);
        let mut buffer = [0u8; 1];
        let read = before.read(&mut buffer).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "live connection survived: {read:?}"
        );
        assert!(
            TcpStream::connect(proxy.address()).await.is_err(),
            "cut proxy accepted"
        );

        proxy.restore().await;
        let mut after = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut after, b"pong").await, b"pong");
        assert_eq!(proxy.accepted_connections(), 2);
    }
}
