import t from 'tap';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { metadataStoreContract } from './support/contract.ts';

metadataStoreContract(t, async (options) => new MemoryMetadataStore(options));
