package skafos.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A KafkaConsumer on its own thread, polling all the time (as an application does, so that group membership and
 * rebalances go on while the test waits). Records it receives are buffered (up to MAX_BUFFERED_RECORDS) for
 * "take"; commands that need the consumer itself run on its thread between polls. Rebalance callbacks are
 * reported as events.
 */
final class ConsumerThread extends Thread {
  private static final int MAX_BUFFERED_RECORDS = 1_000_000;
  private static final Duration POLL = Duration.ofMillis(50);

  private final String consumerName;
  private final KafkaConsumer<String, String> consumer;
  private final JsonNode spec;
  private final LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>(1024);
  private final ArrayDeque<Map<String, Object>> buffer = new ArrayDeque<>();
  private volatile boolean closing = false;
  private volatile Throwable lastError = null;

  ConsumerThread(String name, Properties props, JsonNode spec) {
    super("consumer-" + name);
    setDaemon(true);
    this.consumerName = name;
    this.spec = spec;
    this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer());
  }

  @Override
  public void run() {
    try {
      if (spec.has("topics")) {
        consumer.subscribe(Clients.strings(spec.path("topics")), new Listener());
      } else {
        List<TopicPartition> assign = new ArrayList<>();
        for (JsonNode n : spec.path("assign")) assign.add(Clients.tp(n));
        consumer.assign(assign);
        for (JsonNode n : spec.path("assign")) {
          if (n.has("offset")) consumer.seek(Clients.tp(n), n.path("offset").asLong());
        }
      }
      while (!closing) {
        Runnable task;
        while ((task = tasks.poll()) != null) task.run();
        if (closing) break;
        try {
          var records = consumer.poll(POLL);
          if (!records.isEmpty()) {
            synchronized (buffer) {
              for (ConsumerRecord<String, String> r : records) {
                if (buffer.size() >= MAX_BUFFERED_RECORDS) throw new IllegalStateException("consumer buffer full");
                buffer.add(record(r));
              }
              buffer.notifyAll();
            }
          }
        } catch (org.apache.kafka.common.errors.WakeupException e) {
          // close() or a command wants the thread
        } catch (Exception e) {
          lastError = e;
          Main.emit(event("error", Clients.error(e)));
          Thread.sleep(100);
        }
      }
    } catch (Throwable e) {
      lastError = e;
      Main.emit(event("error", Clients.error(e)));
    } finally {
      Runnable task;
      while ((task = tasks.poll()) != null) task.run();
    }
  }

  /** Runs `fn` on the consumer thread; waits at most timeoutMs for it. */
  private <T> T onThread(Callable<T> fn, long timeoutMs) throws Exception {
    CompletableFuture<T> f = new CompletableFuture<>();
    if (!tasks.offer(() -> {
      try {
        f.complete(fn.call());
      } catch (Throwable e) {
        f.completeExceptionally(e);
      }
    })) throw new IllegalStateException("consumer task queue full");
    return f.get(timeoutMs, TimeUnit.MILLISECONDS);
  }

  ConsumerGroupMetadata groupMetadata(long timeoutMs) throws Exception {
    return onThread(consumer::groupMetadata, timeoutMs);
  }

  Object command(String op, JsonNode cmd) throws Exception {
    long timeoutMs = cmd.path("timeoutMs").asLong(30_000);
    switch (op) {
      case "take":
        return take(cmd.path("count").asInt(), timeoutMs);
      case "records": {
        // Everything buffered after waiting waitMs (to check that nothing more arrives).
        Thread.sleep(cmd.path("waitMs").asLong(0));
        synchronized (buffer) {
          List<Map<String, Object>> out = new ArrayList<>(buffer);
          buffer.clear();
          return Map.of("records", out);
        }
      }
      case "assignment":
        return onThread(() -> {
          TreeSet<String> names = new TreeSet<>();
          for (TopicPartition tp : consumer.assignment()) names.add(Clients.tpName(tp));
          return new ArrayList<>(names);
        }, timeoutMs);
      case "commit":
        return onThread(() -> {
          if (cmd.has("offsets")) {
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            for (JsonNode o : cmd.path("offsets")) offsets.put(Clients.tp(o), new OffsetAndMetadata(o.path("offset").asLong()));
            consumer.commitSync(offsets, Duration.ofMillis(timeoutMs));
          } else {
            consumer.commitSync(Duration.ofMillis(timeoutMs));
          }
          return Map.of();
        }, timeoutMs + 1000);
      case "position":
        return onThread(() -> consumer.position(Clients.tp(cmd), Duration.ofMillis(timeoutMs)), timeoutMs + 1000);
      case "groupMetadata":
        return onThread(() -> {
          ConsumerGroupMetadata m = consumer.groupMetadata();
          Map<String, Object> out = new LinkedHashMap<>();
          out.put("groupId", m.groupId());
          out.put("generationId", m.generationId());
          out.put("memberId", m.memberId());
          return out;
        }, timeoutMs);
      case "lastError":
        return lastError == null ? Map.of() : Clients.error(lastError);
      default:
        throw new IllegalArgumentException("unknown consumer op " + op);
    }
  }

  private Object take(int count, long timeoutMs) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    synchronized (buffer) {
      while (buffer.size() < count) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          throw new java.util.concurrent.TimeoutException(
              "took " + buffer.size() + " of " + count + " records in " + timeoutMs + " ms"
                  + (lastError == null ? "" : "; last error: " + lastError));
        }
        buffer.wait(left);
      }
      List<Map<String, Object>> out = new ArrayList<>(count);
      for (int i = 0; i < count; i++) out.add(buffer.poll());
      return Map.of("records", out);
    }
  }

  void close(long timeoutMs) {
    try {
      onThread(() -> {
        closing = true;
        consumer.close(Duration.ofMillis(timeoutMs));
        return null;
      }, timeoutMs + 5000);
    } catch (Exception e) {
      Main.emit(event("error", Clients.error(e)));
    }
    try {
      join(timeoutMs);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Map<String, Object> record(ConsumerRecord<String, String> r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("topic", r.topic());
    m.put("partition", r.partition());
    m.put("offset", r.offset());
    m.put("timestamp", r.timestamp());
    m.put("key", r.key());
    m.put("value", r.value());
    if (r.headers().toArray().length > 0) {
      Map<String, String> headers = new LinkedHashMap<>();
      for (Header h : r.headers()) headers.put(h.key(), h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
      m.put("headers", headers);
    }
    return m;
  }

  private Map<String, Object> event(String kind, Map<String, Object> fields) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("event", kind);
    m.put("consumer", consumerName);
    m.putAll(fields);
    return m;
  }

  private final class Listener implements ConsumerRebalanceListener {
    private void report(String kind, Collection<TopicPartition> partitions) {
      TreeSet<String> names = new TreeSet<>();
      for (TopicPartition tp : partitions) names.add(Clients.tpName(tp));
      Main.emit(event(kind, Map.of("partitions", new ArrayList<>(names))));
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      report("assigned", partitions);
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      report("revoked", partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      report("lost", partitions);
    }
  }
}
