package skafos.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/** The named client objects of one driver process, and the command table. */
final class Clients {
  private final Map<String, KafkaProducer<String, String>> producers = new ConcurrentHashMap<>();
  private final Map<String, ConsumerThread> consumers = new ConcurrentHashMap<>();
  private final Map<String, Admin> admins = new ConcurrentHashMap<>();

  Object dispatch(String op, JsonNode cmd) throws Exception {
    String name = cmd.path("name").asText("default");
    switch (op) {
      case "producer.create": {
        Properties props = props(cmd.path("config"));
        KafkaProducer<String, String> p = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer());
        if (producers.putIfAbsent(name, p) != null) {
          p.close();
          throw new IllegalArgumentException("producer " + name + " exists");
        }
        return Map.of();
      }
      case "producer.close": {
        KafkaProducer<String, String> p = producers.remove(name);
        if (p != null) p.close(java.time.Duration.ofMillis(cmd.path("timeoutMs").asLong(10_000)));
        return Map.of();
      }
      case "consumer.create": {
        ConsumerThread c = new ConsumerThread(name, props(cmd.path("config")), cmd);
        if (consumers.putIfAbsent(name, c) != null) throw new IllegalArgumentException("consumer " + name + " exists");
        c.start();
        return Map.of();
      }
      case "consumer.close": {
        ConsumerThread c = consumers.remove(name);
        if (c != null) c.close(cmd.path("timeoutMs").asLong(20_000));
        return Map.of();
      }
      case "admin.create": {
        if (admins.putIfAbsent(name, Admin.create(props(cmd.path("config")))) != null)
          throw new IllegalArgumentException("admin " + name + " exists");
        return Map.of();
      }
      case "admin.close": {
        Admin a = admins.remove(name);
        if (a != null) a.close(java.time.Duration.ofMillis(cmd.path("timeoutMs").asLong(10_000)));
        return Map.of();
      }
      default:
        break;
    }
    if (op.startsWith("producer.")) return ProducerOps.run(op.substring(9), need(producers, name, "producer"), cmd, this);
    if (op.startsWith("consumer.")) return need(consumers, name, "consumer").command(op.substring(9), cmd);
    if (op.startsWith("admin.")) return AdminOps.run(op.substring(6), need(admins, name, "admin"), cmd);
    throw new IllegalArgumentException("unknown op " + op);
  }

  ConsumerThread consumer(String name) {
    return need(consumers, name, "consumer");
  }

  void closeAll() {
    for (ConsumerThread c : consumers.values()) c.close(10_000);
    for (KafkaProducer<String, String> p : producers.values()) p.close(java.time.Duration.ofSeconds(5));
    for (Admin a : admins.values()) a.close(java.time.Duration.ofSeconds(5));
  }

  private static <T> T need(Map<String, T> map, String name, String kind) {
    T v = map.get(name);
    if (v == null) throw new IllegalArgumentException("no " + kind + " named " + name);
    return v;
  }

  static Properties props(JsonNode config) {
    Properties p = new Properties();
    for (Iterator<Map.Entry<String, JsonNode>> it = config.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      p.put(e.getKey(), e.getValue().asText());
    }
    return p;
  }

  // ---- JSON helpers shared by the ops

  static TopicPartition tp(JsonNode n) {
    return new TopicPartition(n.path("topic").asText(), n.path("partition").asInt());
  }

  static String tpName(TopicPartition tp) {
    return tp.topic() + "-" + tp.partition();
  }

  static List<String> strings(JsonNode arr) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : arr) out.add(n.asText());
    return out;
  }

  static Map<String, Object> error(Throwable e) {
    Throwable cause = Main.unwrap(e);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("error", cause.getClass().getName());
    m.put("message", String.valueOf(cause.getMessage()));
    return m;
  }
}
