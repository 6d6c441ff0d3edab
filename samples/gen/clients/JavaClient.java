// The JDK's own WebSocket client (java.net.http.WebSocket), for wsclose's client samples.
// The trust store comes from -Djavax.net.ssl.trustStore; the JDK writes no key log.
//
// On open (at most 20 s: the JDK may retry a failed connection) it sends one text message,
// then waits (at most 5 s) for onClose or onError and prints one JSON line with what the
// library handed the application.
//
// Usage: java -Djavax.net.ssl.trustStore=... JavaClient.java URL
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

public class JavaClient {
    static Integer code;
    static String reason;
    static String error;
    static final CompletableFuture<Void> ended = new CompletableFuture<>();

    static String json(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    // The exception and its causes, one line.
    static String oneLine(Throwable t) {
        StringBuilder b = new StringBuilder(t.toString());
        for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            if (c.getMessage() == null || !b.toString().contains(c.getMessage())) {
                b.append(" (cause: ").append(c).append(')');
            }
        }
        String s = b.toString().replace('\n', ' ');
        return s.length() > 200 ? s.substring(0, 200) : s;
    }

    public static void main(String[] args) throws Exception {
        WebSocket.Listener listener = new WebSocket.Listener() {
            public CompletionStage<?> onClose(WebSocket ws, int statusCode, String why) {
                code = statusCode;
                reason = why;
                ended.complete(null);
                return null;
            }

            public void onError(WebSocket ws, Throwable t) {
                error = oneLine(t);
                ended.complete(null);
            }
        };
        try {
            WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
                .buildAsync(URI.create(args[0]), listener)
                .get(20, TimeUnit.SECONDS);
            ws.sendText("hello", true);
            ended.get(5, TimeUnit.SECONDS);
            Thread.sleep(500);
        } catch (Exception e) {
            Throwable t = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
            if (error == null) error = oneLine(t);
        }
        System.out.println("{\"client\": " + json("JDK " + System.getProperty("java.runtime.version") + " java.net.http.WebSocket")
            + ", \"reported\": {\"code\": " + code + ", \"reason\": " + json(reason)
            + ", \"was_clean\": null, \"error_event\": null, \"error\": " + json(error) + "}}");
        System.exit(0);
    }
}
