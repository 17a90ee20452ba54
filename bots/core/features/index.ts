import type { Feature } from '../context.js';
import { adminFeature } from './admin.js';
import { agentFeature } from './agent.js';
import { buyFeature } from './buy.js';
import { codesFeature } from './codes.js';
import { giftFeature } from './gift.js';
import { redeemFeature } from './redeem.js';

/** The features after start/menu/help, in the order they are combined (the engine refuses a word claimed twice). */
export const coreFeatures: Feature[] = [buyFeature, codesFeature, giftFeature, redeemFeature, agentFeature, adminFeature];
