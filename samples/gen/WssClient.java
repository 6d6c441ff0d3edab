// A wss:// client on the JDK's own WebSocket implementation (java.net.http), used for the
// TLS 1.3 sample: JSSE switches to handshake keys right after the ServerHello, so when it
// rejects the server's certificate its alert goes out encrypted.
// Usage: java WssClient.java URL   (trust store via -Djavax.net.ssl.trustStore=...)
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

public class WssClient {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        WebSocket.Listener listener = new WebSocket.Listener() {
            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                ws.sendClose(WebSocket.NORMAL_CLOSURE, "done");
                return null;
            }
        };
        try {
            WebSocket ws = client.newWebSocketBuilder()
                .buildAsync(URI.create(args[0]), listener)
                .get(5, TimeUnit.SECONDS);
            ws.sendText("hello over TLS", true);
            Thread.sleep(500);
        } catch (Exception e) {
            System.err.println("client: " + e);
        }
        System.exit(0);
    }
}
