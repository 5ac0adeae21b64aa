// ConsumerGroupDescribe of a KIP-848 consumer group, and DescribeGroups (the classic API) on one as Kafka 4
// answers it: protocol type `consumer`, the assignor as protocol, each member's subscription and assignment in
// the consumer protocol's encoding.
import { ErrorCode } from '../protocol/errors.ts';
import { encodeConsumerProtocolAssignment, encodeConsumerProtocolSubscription } from '../protocol/generated/index.ts';
import { Writer } from '../protocol/wire/writer.ts';
import type { TopicAssignment } from './assignors.ts';
import { toTopicPartitions } from './consumer-assignment.ts';
import type { TopicLookup } from './consumer-assignment.ts';
import type { ConsumerGroup } from './consumer-group.ts';

export interface DescribedMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  assignment: { topicId: string; topicName: string; partitions: number[] }[];
  targetAssignment: { topicId: string; topicName: string; partitions: number[] }[];
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: DescribedMember[];
}

export interface ClassicDescription {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }[];
}

/** ConsumerGroupDescribe's answer for a group this broker holds; `assignorName` as the members choose it. */
export function describeConsumerGroup(g: ConsumerGroup, topics: TopicLookup, assignorName: string): DescribedConsumerGroup {
  const groupId = g.groupId;
  const named = (a: TopicAssignment) =>
    toTopicPartitions(a).map((t) => ({
      topicId: t.topicId,
      topicName: topics.byId(t.topicId)?.name ?? '',
      partitions: t.partitions,
    }));
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    groupId,
    groupState: g.state,
    groupEpoch: g.groupEpoch,
    // As Kafka: the assignor the members prefer, else the default.
    assignmentEpoch: g.assignmentEpoch,
    assignorName,
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      memberEpoch: m.memberEpoch,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      assignment: named(m.assigned),
      targetAssignment: named(g.targetAssignment.get(m.memberId) ?? new Map()),
    })),
  };
}

/** DescribeGroups' answer for a consumer group. */
export function classicDescriptionOf(g: ConsumerGroup, topics: TopicLookup): ClassicDescription {
  const groupId = g.groupId;
  const nameOf = (id: string) => topics.byId(id)?.name ?? '';
  return {
    errorCode: ErrorCode.NONE,
    groupId,
    state: g.state,
    protocolType: 'consumer',
    protocolData: g.assignorName,
    members: [...g.members.values()].map((m) => {
      const sub = new Writer();
      sub.int16(3);
      encodeConsumerProtocolSubscription(sub, 3, {
        topics: m.subscribedTopicNames,
        userData: null,
        ownedPartitions: [],
        generationId: m.memberEpoch,
        rackId: m.rackId,
      });
      const asg = new Writer();
      asg.int16(3);
      encodeConsumerProtocolAssignment(asg, 3, {
        assignedPartitions: toTopicPartitions(m.assigned).map((t) => ({ topic: nameOf(t.topicId), partitions: t.partitions })),
        userData: null,
      });
      return {
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: sub.finish(),
        assignment: asg.finish(),
      };
    }),
  };
}
