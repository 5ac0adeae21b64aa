package skafos.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.common.utils.internals.Exit;

/**
 * Runs Kafka's command-line tools (kafka-topics, kafka-configs, kafka-consumer-groups, ...) in one JVM, one after
 * another, so a test pays the JVM start once instead of once per command. Each command is a JSON line
 *
 * <pre>
 *   in:  {"id": 1, "tool": "org.apache.kafka.tools.TopicCommand", "args": ["--bootstrap-server", "...", "--list"],
 *         "stdin": "optional text the tool reads", "timeoutMs": 60000}
 *   out: {"id": 1, "ok": true, "result": {"exitCode": 0, "stdout": "...", "stderr": "..."}}
 * </pre>
 *
 * (the answer shape of skafos.driver.Main, so test/support/java-client.ts drives both). The tool's static main runs as `kafka-<tool>.sh` would run it. Its calls to Kafka's Exit.exit end the command
 * with that code instead of the JVM; returning from main is exit code 0, an exception escaping main is exit code 1
 * with the exception on stderr (as the JVM prints it). stdout and stderr are captured per command; commands never
 * overlap, so swapping System.out/err/in is safe. A command that outlives its timeout ends the runner (exit 3): a
 * tool thread cannot be stopped safely, and the test then fails with the output so far.
 */
public final class ToolRunner {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
  private static final long DEFAULT_TIMEOUT_MS = 60_000;
  /** Bound on the output kept per stream and command; more is cut (a tool test never needs more). */
  private static final int MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

  /** Thrown from the replaced exit procedure so the tool's main unwinds instead of ending the JVM. */
  static final class ToolExit extends RuntimeException {
    final int code;

    ToolExit(int code) {
      super(null, null, false, false);
      this.code = code;
    }
  }

  /** The command running now: the first exit it asked for, and how much it had printed then. */
  private static final class Current {
    final BoundedBuffer out;
    final BoundedBuffer err;
    final List<Runnable> hooks = java.util.Collections.synchronizedList(new ArrayList<>());
    Integer exitCode;
    int outBytes;
    int errBytes;

    Current(BoundedBuffer out, BoundedBuffer err) {
      this.out = out;
      this.err = err;
    }

    synchronized void exit(int code) {
      if (exitCode != null) return;
      exitCode = code;
      outBytes = out.size();
      errBytes = err.size();
    }
  }

  private static volatile Current current;

  private ToolRunner() {}

  private static void requestExit(int code) {
    Current c = current;
    if (c != null) c.exit(code);
    throw new ToolExit(code);
  }

  public static void main(String[] args) throws Exception {
    PrintStream realErr = System.err;
    InputStream realIn = System.in;
    Exit.setExitProcedure((code, message) -> requestExit(code));
    Exit.setHaltProcedure((code, message) -> requestExit(code));
    Exit.setShutdownHookAdder((name, hook) -> {
      Current c = current;
      if (c != null) c.hooks.add(hook);
      else Runtime.getRuntime().addShutdownHook(new Thread(hook, name));
    });
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "tool-main");
      t.setDaemon(true);
      return t;
    });
    emit(Map.of("event", "ready"));
    try (BufferedReader in = new BufferedReader(new InputStreamReader(realIn, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        JsonNode cmd = JSON.readTree(line);
        if ("exit".equals(cmd.path("op").asText())) break;
        Map<String, Object> answer = run(pool, cmd, realErr);
        emit(answer);
        if (answer.containsKey("timedOut")) {
          realErr.println("tool runner: a command outlived its timeout; exiting");
          Runtime.getRuntime().halt(3);
        }
      }
    }
    Runtime.getRuntime().halt(0);
  }

  private static Map<String, Object> run(ExecutorService pool, JsonNode cmd, PrintStream realErr) throws Exception {
    String tool = cmd.path("tool").asText();
    List<String> argList = new ArrayList<>();
    for (JsonNode a : cmd.path("args")) argList.add(a.asText());
    String[] toolArgs = argList.toArray(new String[0]);
    long timeoutMs = cmd.path("timeoutMs").asLong(DEFAULT_TIMEOUT_MS);
    BoundedBuffer out = new BoundedBuffer();
    BoundedBuffer err = new BoundedBuffer();
    PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
    PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
    System.setOut(outStream);
    System.setErr(errStream);
    System.setIn(new ByteArrayInputStream(cmd.path("stdin").asText("").getBytes(StandardCharsets.UTF_8)));
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("id", cmd.path("id").asLong());
    Current cur = new Current(out, err);
    current = cur;
    int exitCode;
    Future<Integer> done = pool.submit(() -> {
      int code = invoke(tool, toolArgs, errStream);
      for (Runnable hook : List.copyOf(cur.hooks)) {
        try {
          hook.run();
        } catch (RuntimeException e) {
          e.printStackTrace(errStream);
        }
      }
      return code;
    });
    try {
      exitCode = done.get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      exitCode = -1;
      answer.put("timedOut", true);
    } finally {
      outStream.flush();
      errStream.flush();
      System.setOut(realErr);
      System.setErr(realErr);
      current = null;
    }
    String stdout = out.text();
    String stderr = err.text();
    synchronized (cur) {
      if (cur.exitCode != null && exitCode != -1) {
        exitCode = cur.exitCode;
        stdout = out.text(cur.outBytes);
        stderr = err.text(cur.errBytes);
      }
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("exitCode", exitCode);
    result.put("stdout", stdout);
    result.put("stderr", stderr);
    answer.put("ok", true);
    answer.put("result", result);
    return answer;
  }

  private static int invoke(String tool, String[] args, PrintStream err) {
    try {
      Method main = Class.forName(tool).getMethod("main", String[].class);
      main.invoke(null, (Object) args);
      return 0;
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ToolExit exit) return exit.code;
      cause.printStackTrace(err);
      return 1;
    } catch (ToolExit exit) {
      return exit.code;
    } catch (ReflectiveOperationException e) {
      e.printStackTrace(err);
      return 1;
    }
  }

  private static void emit(Map<String, ?> message) throws Exception {
    String text = JSON.writeValueAsString(message);
    synchronized (OUT) {
      OUT.println(text);
    }
  }

  /** A byte buffer that keeps at most MAX_OUTPUT_BYTES and drops the rest. */
  private static final class BoundedBuffer extends ByteArrayOutputStream {
    @Override
    public synchronized void write(int b) {
      if (count < MAX_OUTPUT_BYTES) super.write(b);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
      super.write(b, off, Math.max(0, Math.min(len, MAX_OUTPUT_BYTES - count)));
    }

    synchronized String text() {
      return toString(StandardCharsets.UTF_8);
    }

    /** The first `bytes` bytes written. */
    synchronized String text(int bytes) {
      return new String(buf, 0, Math.min(bytes, count), StandardCharsets.UTF_8);
    }
  }
}
