//! A real DNS server for the tests (hickory-server on a random UDP port of 127.0.0.1): it answers
//! TXT queries from a table the test fills in, NXDOMAIN for names it does not have, and counts the
//! queries it got. Point `AUTH_DNS_RESOLVER` at `addr`.
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::TXT;
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type Records = Arc<Mutex<HashMap<String, Vec<String>>>>;

pub struct DnsServer {
    pub addr: SocketAddr,
    records: Records,
    queries: Arc<AtomicUsize>,
}

impl DnsServer {
    /// Starts a server; it runs until the test's runtime ends.
    pub async fn start() -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records = Records::default();
        let queries = Arc::new(AtomicUsize::new(0));
        let handler = Txt {
            records: Arc::clone(&records),
            queries: Arc::clone(&queries),
        };
        let mut server = Server::new(handler);
        server.register_socket(socket);
        tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self { addr, records, queries }
    }

    /// Publishes (replaces) the TXT values at `name`.
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        let values = values.iter().map(|v| v.to_string()).collect();
        self.records.lock().unwrap().insert(key, values);
    }

    /// How many queries reached the server.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

struct Txt {
    records: Records,
    queries: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl RequestHandler for Txt {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let mut answers = Vec::new();
        if let Some(query) = request.queries.queries().first() {
            let name: Name = query.name().into();
            let key = name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
            match self.records.lock().unwrap().get(&key) {
                Some(values) if query.query_type() == RecordType::TXT => {
                    for value in values {
                        let txt = TXT::new(vec![value.clone()]);
                        answers.push(Record::from_rdata(name.clone(), 0, RData::TXT(txt)));
                    }
                }
                Some(_) => {}
                None => metadata.response_code = ResponseCode::NXDomain,
            }
        }
        let message = builder.build(metadata, answers.iter(), [], [], []);
        response.send_response(message).await.expect("the answer is sent")
    }
}
