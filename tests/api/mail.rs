//! A real SMTP listener for the tests: guildhall sends over SMTP (lettre) and the message is read
//! off the wire, then handed to the test.
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// One message as the sink received it; `data` with a quoted-printable body decoded.
pub struct Received {
    pub recipients: Vec<String>,
    pub data: String,
}

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` escapes.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escape = joined
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'=')
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A tiny SMTP server on 127.0.0.1 that accepts every message and hands it over.
pub async fn smtp_sink() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut recipients = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if command.starts_with("RCPT TO:") {
                        recipients.push(line[8..].trim().trim_matches(|c| c == '<' || c == '>').to_owned());
                        b"250 OK\r\n"
                    } else if command == "DATA" {
                        write.write_all(b"354 end with .\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        if data
                            .to_ascii_lowercase()
                            .contains("content-transfer-encoding: quoted-printable")
                        {
                            data = decode_quoted_printable(&data);
                        }
                        let _ = sender.send(Received {
                            recipients: std::mem::take(&mut recipients),
                            data,
                        });
                        b"250 OK queued\r\n"
                    } else if command == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (url, receiver)
}

/// The reset token in a message: the line of 43 base64url characters.
pub fn token_in(data: &str) -> String {
    data.lines()
        .map(str::trim)
        .find(|l| l.len() == 43 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or_else(|| panic!("no token in {data}"))
        .to_owned()
}

pub async fn next_mail(receiver: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("a message within 10 s")
        .unwrap()
}

/// Asserts that no message arrives within `wait` (what a paced or refused request must not send).
pub async fn no_mail(receiver: &mut mpsc::UnboundedReceiver<Received>, wait: Duration) {
    if let Ok(Some(message)) = tokio::time::timeout(wait, receiver.recv()).await {
        panic!(
            "no message expected, got one to {:?}:\n{}",
            message.recipients, message.data
        );
    }
}

/// The next message whose subject is `subject`, skipping others (a registration's verification
/// mail before the reset mail a test waits for).
pub async fn next_mail_about(receiver: &mut mpsc::UnboundedReceiver<Received>, subject: &str) -> Received {
    loop {
        let message = next_mail(receiver).await;
        if message.data.lines().any(|l| l.trim() == format!("Subject: {subject}")) {
            return message;
        }
    }
}

pub const VERIFY_SUBJECT: &str = "Confirm your email address";
