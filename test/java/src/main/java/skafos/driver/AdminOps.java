package skafos.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

/**
 * Admin commands. Results with one outcome per item (topic, partition, resource) answer a map from the item to
 * its result, or to {error, message} for the items that failed, so a test checks each one.
 */
final class AdminOps {
  private AdminOps() {}

  static Object run(String op, Admin admin, JsonNode cmd) throws Exception {
    long timeoutMs = cmd.path("timeoutMs").asLong(30_000);
    switch (op) {
      case "createTopics": {
        List<NewTopic> topics = new ArrayList<>();
        for (JsonNode t : cmd.path("topics")) {
          NewTopic nt = new NewTopic(
              t.path("name").asText(),
              t.has("partitions") ? Optional.of(t.path("partitions").asInt()) : Optional.empty(),
              t.has("replicationFactor") ? Optional.of((short) t.path("replicationFactor").asInt()) : Optional.empty());
          Map<String, String> configs = new HashMap<>();
          t.path("configs").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
          topics.add(nt.configs(configs));
        }
        var result = admin.createTopics(topics, new CreateTopicsOptions().validateOnly(cmd.path("validateOnly").asBoolean(false)));
        return each(result.values(), timeoutMs, v -> Map.of());
      }
      case "listTopics":
        return new ArrayList<>(new java.util.TreeSet<>(admin.listTopics().names().get(timeoutMs, TimeUnit.MILLISECONDS)));
      case "describeTopics": {
        var result = admin.describeTopics(Clients.strings(cmd.path("topics"))).topicNameValues();
        return each(result, timeoutMs, AdminOps::topic);
      }
      case "deleteTopics":
        return each(admin.deleteTopics(Clients.strings(cmd.path("topics"))).topicNameValues(), timeoutMs, v -> Map.of());
      case "createPartitions": {
        Map<String, NewPartitions> req = new HashMap<>();
        cmd.path("topics").fields().forEachRemaining(e -> req.put(e.getKey(), NewPartitions.increaseTo(e.getValue().asInt())));
        return each(admin.createPartitions(req).values(), timeoutMs, v -> Map.of());
      }
      case "describeConfigs": {
        List<ConfigResource> resources = new ArrayList<>();
        for (JsonNode r : cmd.path("resources")) resources.add(resource(r));
        List<String> keys = Clients.strings(cmd.path("keys"));
        Map<String, KafkaFuture<Config>> byName = new LinkedHashMap<>();
        admin.describeConfigs(resources).values().forEach((r, f) -> byName.put(r.type() + ":" + r.name(), f));
        return each(byName, timeoutMs, config -> {
          Map<String, Object> entries = new TreeMap<>();
          for (ConfigEntry e : config.entries()) {
            if (!keys.isEmpty() && !keys.contains(e.name())) continue;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("value", e.value());
            m.put("source", e.source().name());
            m.put("readOnly", e.isReadOnly());
            m.put("sensitive", e.isSensitive());
            entries.put(e.name(), m);
          }
          return entries;
        });
      }
      case "incrementalAlterConfigs": {
        Map<ConfigResource, Collection<AlterConfigOp>> req = new HashMap<>();
        for (JsonNode r : cmd.path("resources")) {
          List<AlterConfigOp> ops = new ArrayList<>();
          for (JsonNode o : r.path("ops")) {
            ops.add(new AlterConfigOp(
                new ConfigEntry(o.path("key").asText(), o.path("value").isNull() ? null : o.path("value").asText()),
                AlterConfigOp.OpType.valueOf(o.path("op").asText("SET"))));
          }
          req.put(resource(r), ops);
        }
        Map<String, KafkaFuture<Void>> byName = new LinkedHashMap<>();
        admin.incrementalAlterConfigs(req, new org.apache.kafka.clients.admin.AlterConfigsOptions().validateOnly(cmd.path("validateOnly").asBoolean(false)))
            .values().forEach((r, f) -> byName.put(r.type() + ":" + r.name(), f));
        return each(byName, timeoutMs, v -> Map.of());
      }
      case "listOffsets": {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        for (JsonNode p : cmd.path("partitions")) req.put(Clients.tp(p), spec(p.path("spec")));
        IsolationLevel iso = "read_committed".equals(cmd.path("isolation").asText()) ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED;
        var result = admin.listOffsets(req, new ListOffsetsOptions(iso));
        Map<String, KafkaFuture<ListOffsetsResult.ListOffsetsResultInfo>> byName = new LinkedHashMap<>();
        for (TopicPartition tp : req.keySet()) byName.put(Clients.tpName(tp), result.partitionResult(tp));
        return each(byName, timeoutMs, info -> {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("offset", info.offset());
          m.put("timestamp", info.timestamp());
          m.put("leaderEpoch", info.leaderEpoch().orElse(null));
          return m;
        });
      }
      case "deleteRecords": {
        Map<TopicPartition, RecordsToDelete> req = new HashMap<>();
        for (JsonNode p : cmd.path("partitions")) req.put(Clients.tp(p), RecordsToDelete.beforeOffset(p.path("offset").asLong()));
        Map<String, KafkaFuture<org.apache.kafka.clients.admin.DeletedRecords>> byName = new LinkedHashMap<>();
        admin.deleteRecords(req).lowWatermarks().forEach((tp, f) -> byName.put(Clients.tpName(tp), f));
        return each(byName, timeoutMs, d -> Map.of("lowWatermark", d.lowWatermark()));
      }
      case "listGroups": {
        List<Map<String, Object>> out = new ArrayList<>();
        for (GroupListing g : admin.listGroups().all().get(timeoutMs, TimeUnit.MILLISECONDS)) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("groupId", g.groupId());
          m.put("type", g.type().map(Enum::name).orElse(null));
          m.put("protocol", g.protocol());
          m.put("state", g.groupState().map(Enum::name).orElse(null));
          out.add(m);
        }
        out.sort((a, b) -> ((String) a.get("groupId")).compareTo((String) b.get("groupId")));
        return out;
      }
      case "describeConsumerGroups": {
        var result = admin.describeConsumerGroups(Clients.strings(cmd.path("groups"))).describedGroups();
        return each(result, timeoutMs, AdminOps::group);
      }
      case "listConsumerGroupOffsets": {
        Map<TopicPartition, OffsetAndMetadata> offsets =
            admin.listConsumerGroupOffsets(cmd.path("group").asText()).partitionsToOffsetAndMetadata().get(timeoutMs, TimeUnit.MILLISECONDS);
        Map<String, Object> out = new TreeMap<>();
        offsets.forEach((tp, o) -> out.put(Clients.tpName(tp), o == null ? null : o.offset()));
        return out;
      }
      case "deleteConsumerGroups":
        return each(admin.deleteConsumerGroups(Clients.strings(cmd.path("groups"))).deletedGroups(), timeoutMs, v -> Map.of());
      case "describeCluster": {
        DescribeClusterResult r = admin.describeCluster();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("clusterId", r.clusterId().get(timeoutMs, TimeUnit.MILLISECONDS));
        Node controller = r.controller().get(timeoutMs, TimeUnit.MILLISECONDS);
        out.put("controller", controller == null ? null : controller.id());
        List<Map<String, Object>> nodes = new ArrayList<>();
        for (Node n : r.nodes().get(timeoutMs, TimeUnit.MILLISECONDS)) nodes.add(node(n));
        out.put("nodes", nodes);
        return out;
      }
      case "describeTransactions": {
        // Per transactional id: its state and producer id and epoch (the epoch shows transaction version 2's bumps).
        Map<String, Object> out = new TreeMap<>();
        admin.describeTransactions(Clients.strings(cmd.path("ids"))).all().get(timeoutMs, TimeUnit.MILLISECONDS).forEach((id, d) -> {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("state", d.state().toString());
          m.put("producerId", d.producerId());
          m.put("producerEpoch", (int) d.producerEpoch());
          out.put(id, m);
        });
        return out;
      }
      case "describeFeatures": {
        // The finalized features' max levels and their epoch (-1 when absent), as the client saw them.
        FeatureMetadata f = admin.describeFeatures().featureMetadata().get(timeoutMs, TimeUnit.MILLISECONDS);
        Map<String, Object> levels = new TreeMap<>();
        f.finalizedFeatures().forEach((name, r) -> levels.put(name, (int) r.maxVersionLevel()));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("finalized", levels);
        out.put("epoch", f.finalizedFeaturesEpoch().orElse(-1L));
        return out;
      }
      case "updateFeatures": {
        // {feature, level, upgradeType: UPGRADE | SAFE_DOWNGRADE | UNSAFE_DOWNGRADE} (kafka-features upgrade/downgrade).
        FeatureUpdate u = new FeatureUpdate((short) cmd.path("level").asInt(),
            FeatureUpdate.UpgradeType.valueOf(cmd.path("upgradeType").asText("UPGRADE")));
        admin.updateFeatures(Map.of(cmd.path("feature").asText(), u), new UpdateFeaturesOptions()).all().get(timeoutMs, TimeUnit.MILLISECONDS);
        return Map.of();
      }
      case "createAcls": {
        List<AclBinding> bindings = new ArrayList<>();
        for (JsonNode a : cmd.path("acls")) {
          AclBindingFilter f = aclFilter(a);
          bindings.add(new AclBinding(
              new ResourcePattern(f.patternFilter().resourceType(), f.patternFilter().name(), f.patternFilter().patternType()),
              new AccessControlEntry(f.entryFilter().principal(), f.entryFilter().host(), f.entryFilter().operation(), f.entryFilter().permissionType())));
        }
        var result = admin.createAcls(bindings).values();
        List<Object> out = new ArrayList<>();
        for (AclBinding b : bindings) {
          try {
            result.get(b).get(timeoutMs, TimeUnit.MILLISECONDS);
            out.add(Map.of());
          } catch (Exception e) {
            out.add(Clients.error(e));
          }
        }
        return out;
      }
      case "describeAcls": {
        List<Object> out = new ArrayList<>();
        for (AclBinding b : admin.describeAcls(aclFilter(cmd.path("filter"))).values().get(timeoutMs, TimeUnit.MILLISECONDS)) out.add(acl(b));
        return out;
      }
      case "deleteAcls": {
        List<AclBindingFilter> filters = new ArrayList<>();
        for (JsonNode f : cmd.path("filters")) filters.add(aclFilter(f));
        var result = admin.deleteAcls(filters).values();
        List<Object> out = new ArrayList<>();
        for (AclBindingFilter f : filters) {
          try {
            List<Object> deleted = new ArrayList<>();
            for (var r : result.get(f).get(timeoutMs, TimeUnit.MILLISECONDS).values()) deleted.add(acl(r.binding()));
            out.add(deleted);
          } catch (Exception e) {
            out.add(Clients.error(e));
          }
        }
        return out;
      }
      case "alterUserScramCredentials": {
        // As kafka-configs --alter --add-config 'SCRAM-SHA-512=[iterations=...,password=...]' / --delete-config.
        List<org.apache.kafka.clients.admin.UserScramCredentialAlteration> alterations = new ArrayList<>();
        for (JsonNode a : cmd.path("upsertions")) {
          alterations.add(new org.apache.kafka.clients.admin.UserScramCredentialUpsertion(
              a.path("user").asText(),
              new org.apache.kafka.clients.admin.ScramCredentialInfo(
                  org.apache.kafka.clients.admin.ScramMechanism.fromMechanismName(a.path("mechanism").asText()), a.path("iterations").asInt(4096)),
              a.path("password").asText()));
        }
        for (JsonNode d : cmd.path("deletions")) {
          alterations.add(new org.apache.kafka.clients.admin.UserScramCredentialDeletion(
              d.path("user").asText(), org.apache.kafka.clients.admin.ScramMechanism.fromMechanismName(d.path("mechanism").asText())));
        }
        return each(admin.alterUserScramCredentials(alterations).values(), timeoutMs, v -> Map.of());
      }
      case "alterClientQuotas": {
        // {"entity": {"user": "alice"}, "set": {"producer_byte_rate": 1048576}, "remove": ["consumer_byte_rate"]}
        List<org.apache.kafka.common.quota.ClientQuotaAlteration> alterations = new ArrayList<>();
        for (JsonNode a : cmd.path("alterations")) {
          Map<String, String> entity = new java.util.HashMap<>();
          a.path("entity").fields().forEachRemaining(e -> entity.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText()));
          List<org.apache.kafka.common.quota.ClientQuotaAlteration.Op> ops = new ArrayList<>();
          a.path("set").fields().forEachRemaining(e -> ops.add(new org.apache.kafka.common.quota.ClientQuotaAlteration.Op(e.getKey(), e.getValue().asDouble())));
          for (JsonNode r : a.path("remove")) ops.add(new org.apache.kafka.common.quota.ClientQuotaAlteration.Op(r.asText(), null));
          alterations.add(new org.apache.kafka.common.quota.ClientQuotaAlteration(new org.apache.kafka.common.quota.ClientQuotaEntity(entity), ops));
        }
        return each(admin.alterClientQuotas(alterations).values(), timeoutMs, v -> Map.of());
      }
      case "describeClientQuotas": {
        // Every quota of the cluster (an empty, non-strict filter), keyed by the entity as a sorted map.
        var quotas = admin.describeClientQuotas(org.apache.kafka.common.quota.ClientQuotaFilter.all()).entities().get(timeoutMs, TimeUnit.MILLISECONDS);
        Map<String, Object> out = new TreeMap<>();
        quotas.forEach((entity, values) -> out.put(new TreeMap<>(entity.entries()).toString(), new TreeMap<>(values)));
        return out;
      }
      case "describeUserScramCredentials": {
        var descriptions = admin.describeUserScramCredentials().all().get(timeoutMs, TimeUnit.MILLISECONDS);
        Map<String, Object> out = new TreeMap<>();
        descriptions.forEach((user, d) -> {
          List<String> infos = new ArrayList<>();
          for (var info : d.credentialInfos()) infos.add(info.mechanism().mechanismName() + ":" + info.iterations());
          java.util.Collections.sort(infos);
          out.put(user, infos);
        });
        return out;
      }
      default:
        throw new IllegalArgumentException("unknown admin op " + op);
    }
  }

  @FunctionalInterface
  private interface Convert<T> {
    Object apply(T value) throws Exception;
  }

  private static <K, T> Map<String, Object> each(Map<K, KafkaFuture<T>> futures, long timeoutMs, Convert<T> convert) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    Map<String, Object> out = new TreeMap<>();
    futures.forEach((k, f) -> {
      try {
        out.put(String.valueOf(k), convert.apply(f.get(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS)));
      } catch (Exception e) {
        out.put(String.valueOf(k), Clients.error(e));
      }
    });
    return out;
  }

  /** An ACL binding or filter: {resourceType, name, patternType, principal, host, operation, permission}, Kafka's enum names; missing = ANY/null. */
  private static AclBindingFilter aclFilter(JsonNode a) {
    return new AclBindingFilter(
        new ResourcePatternFilter(
            ResourceType.valueOf(a.path("resourceType").asText("ANY")),
            a.hasNonNull("name") ? a.path("name").asText() : null,
            PatternType.valueOf(a.path("patternType").asText("ANY"))),
        new AccessControlEntryFilter(
            a.hasNonNull("principal") ? a.path("principal").asText() : null,
            a.hasNonNull("host") ? a.path("host").asText() : null,
            AclOperation.valueOf(a.path("operation").asText("ANY")),
            AclPermissionType.valueOf(a.path("permission").asText("ANY"))));
  }

  private static Map<String, Object> acl(AclBinding b) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("resourceType", b.pattern().resourceType().name());
    out.put("name", b.pattern().name());
    out.put("patternType", b.pattern().patternType().name());
    out.put("principal", b.entry().principal());
    out.put("host", b.entry().host());
    out.put("operation", b.entry().operation().name());
    out.put("permission", b.entry().permissionType().name());
    return out;
  }

  private static ConfigResource resource(JsonNode r) {
    return new ConfigResource(ConfigResource.Type.valueOf(r.path("type").asText("TOPIC")), r.path("name").asText());
  }

  private static OffsetSpec spec(JsonNode s) {
    if (s.isNumber()) return OffsetSpec.forTimestamp(s.asLong());
    switch (s.asText("latest")) {
      case "earliest":
        return OffsetSpec.earliest();
      case "max-timestamp":
        return OffsetSpec.maxTimestamp();
      default:
        return OffsetSpec.latest();
    }
  }

  private static Map<String, Object> node(Node n) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", n.id());
    m.put("host", n.host());
    m.put("port", n.port());
    return m;
  }

  private static Object topic(TopicDescription d) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", d.name());
    m.put("internal", d.isInternal());
    m.put("topicId", d.topicId() == null ? null : d.topicId().toString());
    List<Map<String, Object>> parts = new ArrayList<>();
    for (TopicPartitionInfo p : d.partitions()) {
      Map<String, Object> pm = new LinkedHashMap<>();
      pm.put("partition", p.partition());
      pm.put("leader", p.leader() == null ? null : p.leader().id());
      pm.put("replicas", p.replicas().stream().map(Node::id).toList());
      pm.put("isr", p.isr().stream().map(Node::id).toList());
      parts.add(pm);
    }
    m.put("partitions", parts);
    return m;
  }

  private static Object group(ConsumerGroupDescription d) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("groupId", d.groupId());
    m.put("state", d.groupState().name());
    m.put("type", d.type().name());
    m.put("partitionAssignor", d.partitionAssignor());
    m.put("coordinator", d.coordinator() == null ? null : d.coordinator().id());
    List<Map<String, Object>> members = new ArrayList<>();
    for (MemberDescription md : d.members()) {
      Map<String, Object> mm = new LinkedHashMap<>();
      mm.put("memberId", md.consumerId());
      mm.put("clientId", md.clientId());
      mm.put("host", md.host());
      mm.put("assignment", md.assignment().topicPartitions().stream().map(Clients::tpName).sorted().toList());
      members.add(mm);
    }
    members.sort((a, b) -> ((String) a.get("clientId")).compareTo((String) b.get("clientId")));
    m.put("members", members);
    return m;
  }
}
