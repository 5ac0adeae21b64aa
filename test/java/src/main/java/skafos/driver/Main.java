package skafos.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * One driver process runs a whole test scenario: it reads commands as JSON lines on stdin and answers each with
 * one JSON line on stdout, so a test pays the JVM start once.
 *
 * <pre>
 *   in:  {"id": 7, "op": "producer.send", "name": "p", ...}
 *   out: {"id": 7, "ok": true, "result": {...}}
 *        {"id": 7, "ok": false, "error": "org.apache.kafka.common.errors.TopicExistsException", "message": "..."}
 *        {"event": "assigned", "consumer": "c1", "partitions": ["t-0"]}   (not an answer: something that happened)
 * </pre>
 *
 * Commands run concurrently (a consumer's "take" may wait while a producer sends); each client object is named
 * by the test. Every wait is bounded: by the client's own timeouts and by each command's timeoutMs. The process
 * exits on "exit" or at the end of stdin, closing whatever is still open.
 */
public final class Main {
  static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
  /** Bound on the commands running at once (a test has a handful). */
  private static final int MAX_CONCURRENT_COMMANDS = 64;

  private Main() {}

  public static void main(String[] args) throws Exception {
    // Client logging goes to stderr (Log4j 2's default), which the tests keep for failure messages only.
    System.setOut(System.err);
    Clients clients = new Clients();
    ExecutorService pool = Executors.newFixedThreadPool(MAX_CONCURRENT_COMMANDS, r -> {
      Thread t = new Thread(r, "driver-command");
      t.setDaemon(true);
      return t;
    });
    emit(Map.of("event", "ready"));
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        JsonNode cmd = JSON.readTree(line);
        if ("exit".equals(cmd.path("op").asText())) break;
        pool.execute(() -> run(clients, cmd));
      }
    }
    pool.shutdown();
    pool.awaitTermination(30, TimeUnit.SECONDS);
    clients.closeAll();
    emit(Map.of("event", "exited"));
    System.exit(0);
  }

  private static void run(Clients clients, JsonNode cmd) {
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("id", cmd.path("id").asLong());
    try {
      Object result = clients.dispatch(cmd.path("op").asText(), cmd);
      answer.put("ok", true);
      answer.put("result", result);
    } catch (Throwable e) {
      Throwable cause = unwrap(e);
      answer.put("ok", false);
      answer.put("error", cause.getClass().getName());
      answer.put("message", String.valueOf(cause.getMessage()));
    }
    emit(answer);
  }

  static Throwable unwrap(Throwable e) {
    while ((e instanceof ExecutionException || e instanceof CompletionException) && e.getCause() != null) e = e.getCause();
    return e;
  }

  static void emit(Map<String, ?> message) {
    String text;
    try {
      text = JSON.writeValueAsString(message);
    } catch (Exception e) {
      text = "{\"event\":\"driver-error\",\"message\":" + JSON.valueToTree(String.valueOf(e)) + "}";
    }
    synchronized (OUT) {
      OUT.println(text);
    }
  }
}
