// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice The part of a Safe (or any Zodiac avatar) a module uses.
interface IModuleAvatar {
    /// @param operation 0 = call, 1 = delegatecall (the guard only ever uses 0)
    function execTransactionFromModuleReturnData(address to, uint256 value, bytes calldata data, uint8 operation)
        external
        returns (bool success, bytes memory returnData);
}

/// @title AgentGuard
/// @notice A Safe module through which an AI agent's key may move the Safe's funds, only inside a
///         policy the Safe's owners set on-chain:
///         - scope: allowed (target, function selector) pairs, with optional conditions on one
///           address argument (a recipient allowlist) and one amount argument (a per-call bound);
///         - spending caps per token (address(0) = the native coin) over a sliding window;
///         - an expiry on every grant (renewal is explicit), immediate revocation (by the owners or
///           by the agent itself) and a pause switch (owners or guardians);
///         - a timelock for actions above a per-token threshold: queued, executable after `delay`
///           and within `GRACE_PERIOD`, vetoable by the owners or named guardians.
///         Every action carries a decision id (the hash of the off-chain decision record) in its
///         event; a decision id is usable once, so a retried send can never execute twice.
/// @dev    Default deny: a target/selector without a scope, a token without a cap, a delegatecall,
///         short calldata, or a malformed argument word are refused with a named error.
///         Sliding window: spends are kept in BUCKETS + 1 time buckets of ceil(window / BUCKETS)
///         seconds; a spend is allowed when it plus everything in the current and the previous
///         BUCKETS buckets stays within the cap. Those buckets cover at least the last `window`
///         seconds, so no interval of `window` seconds ever sees more than the cap leave the Safe.
///         (The check is stricter than an exact sliding window by up to one bucket.)
contract AgentGuard is ReentrancyGuardTransient {
    uint8 public constant NO_ARG = type(uint8).max;
    uint256 public constant BUCKETS = 4;
    uint256 public constant GRACE_PERIOD = 7 days;
    uint256 public constant MAX_GRANT_DURATION = 365 days;
    uint256 public constant MAX_DELAY = 30 days;

    /// @notice What a grant allows for one (target, selector). selector 0x00000000 = a plain
    ///         native-coin transfer to `target` (empty calldata).
    struct Scope {
        bool allowed;
        /// index of the address argument checked against the recipient allowlist, or NO_ARG
        uint8 recipientArg;
        /// index of the uint argument counted against `capToken`'s cap, or NO_ARG
        uint8 amountArg;
        /// the token whose cap the amount argument counts against (address(0) = native coin);
        /// for an ERC-20 the Safe's balance decrease is also measured, and the larger counts
        address capToken;
        /// per-call bound on the amount argument (0 = only the cap applies)
        uint256 maxAmount;
    }

    struct Cap {
        uint128 limit;
        /// amounts above this go through the timelock queue
        uint128 timelockAbove;
        uint32 window;
        bool set;
    }

    struct Bucket {
        uint64 index;
        uint192 amount;
    }

    struct Grant {
        /// changes on every grant and revocation: scopes, caps and spends belong to one policy
        bytes32 policyId;
        uint64 expiry;
        bool active;
    }

    enum QueueStatus {
        None,
        Queued,
        Executed,
        Vetoed,
        Withdrawn
    }

    struct Queued {
        address agent;
        bytes32 policyId;
        uint64 eta;
        QueueStatus status;
    }

    IModuleAvatar public immutable safe;
    bool public paused;
    uint32 public delay;
    uint256 private _generation;

    mapping(address agent => Grant) public grants;
    mapping(address guardian => bool) public isGuardian;
    mapping(bytes32 policyId => mapping(address target => mapping(bytes4 selector => Scope))) private _scopes;
    mapping(bytes32 policyId => mapping(address recipient => bool)) public recipientAllowed;
    mapping(bytes32 policyId => mapping(address token => Cap)) private _caps;
    mapping(bytes32 policyId => mapping(address token => Bucket[BUCKETS + 1])) private _spends;
    mapping(bytes32 decisionId => bool) public decisionUsed;
    mapping(bytes32 actionId => Queued) public queued;

    event Granted(address indexed agent, bytes32 indexed policyId, uint64 expiry);
    event Renewed(address indexed agent, bytes32 indexed policyId, uint64 expiry);
    event Revoked(address indexed agent, bytes32 indexed policyId, address by);
    event ScopeSet(address indexed agent, address indexed target, bytes4 indexed selector, Scope scope);
    event RecipientSet(address indexed agent, address indexed recipient, bool allowed);
    event CapSet(address indexed agent, address indexed token, uint128 limit, uint32 window, uint128 timelockAbove);
    event GuardianSet(address indexed guardian, bool enabled);
    event DelaySet(uint32 delay);
    event PausedSet(bool paused, address indexed by);
    event ActionExecuted(
        address indexed agent, bytes32 indexed decisionId, address indexed to, uint256 value, bytes4 selector
    );
    event Spent(address indexed agent, address indexed token, uint256 amount, uint256 spentInWindow);
    event ActionQueued(bytes32 indexed actionId, address indexed agent, bytes32 indexed decisionId, uint64 eta);
    event ActionVetoed(bytes32 indexed actionId, address indexed by);
    event ActionWithdrawn(bytes32 indexed actionId, address indexed agent);

    error NotSafe(address caller);
    error NotSafeOrGuardian(address caller);
    error NotAgent(address caller);
    error GrantExpired(address agent, uint64 expiry);
    error IsPaused();
    error BadExpiry(uint64 expiry);
    error BadWindow(uint32 window);
    error DelayTooLong(uint32 delay);
    error ZeroAddress();
    error SelfTarget(address target);
    error CalldataTooShort(uint256 length, uint256 needed);
    error TargetNotAllowed(address target, bytes4 selector);
    error MalformedAddressArgument(uint8 index);
    error RecipientNotAllowed(address recipient);
    error AmountAboveBound(uint256 amount, uint256 maxAmount);
    error NoCapForToken(address token);
    error CapExceeded(address token, uint256 spentInWindow, uint256 amount, uint256 limit);
    error TimelockRequired(address token, uint256 amount, uint256 timelockAbove);
    error DecisionAlreadyUsed(bytes32 decisionId);
    error NotQueued(bytes32 actionId, QueueStatus status);
    error TooEarly(bytes32 actionId, uint64 eta);
    error QueueExpired(bytes32 actionId, uint256 deadline);
    error PolicyChanged(bytes32 actionId);
    error ActionFailed(bytes returnData);

    modifier onlySafe() {
        if (msg.sender != address(safe)) revert NotSafe(msg.sender);
        _;
    }

    modifier onlySafeOrGuardian() {
        if (msg.sender != address(safe) && !isGuardian[msg.sender]) revert NotSafeOrGuardian(msg.sender);
        _;
    }

    constructor(IModuleAvatar safe_, uint32 delay_) {
        if (address(safe_) == address(0)) revert ZeroAddress();
        if (delay_ > MAX_DELAY) revert DelayTooLong(delay_);
        safe = safe_;
        delay = delay_;
        emit DelaySet(delay_);
    }

    // ---------------------------------------------------------------- owners (the Safe itself)

    /// @notice Grant `agent` a new, empty policy (scopes and caps are added next), replacing any
    ///         earlier one. Every grant expires; `renew` extends it.
    function grant(address agent, uint64 expiry) external onlySafe returns (bytes32 policyId) {
        if (agent == address(0)) revert ZeroAddress();
        _checkExpiry(expiry);
        policyId = keccak256(abi.encode(address(this), agent, ++_generation));
        grants[agent] = Grant({policyId: policyId, expiry: expiry, active: true});
        emit Granted(agent, policyId, expiry);
    }

    function renew(address agent, uint64 expiry) external onlySafe {
        Grant storage g = grants[agent];
        if (!g.active) revert NotAgent(agent);
        _checkExpiry(expiry);
        g.expiry = expiry;
        emit Renewed(agent, g.policyId, expiry);
    }

    function setScope(address agent, address target, bytes4 selector, Scope calldata scope) external onlySafe {
        bytes32 policyId = _activePolicy(agent);
        if (target == address(0)) revert ZeroAddress();
        // an agent that could call the guard or the Safe through the Safe could raise its own limits
        if (target == address(this) || target == address(safe)) revert SelfTarget(target);
        _scopes[policyId][target][selector] = scope;
        emit ScopeSet(agent, target, selector, scope);
    }

    function setRecipient(address agent, address recipient, bool allowed) external onlySafe {
        recipientAllowed[_activePolicy(agent)][recipient] = allowed;
        emit RecipientSet(agent, recipient, allowed);
    }

    /// @param token address(0) for the native coin
    /// @param timelockAbove amounts above it must be queued (type(uint128).max: never)
    function setCap(address agent, address token, uint128 limit, uint32 window, uint128 timelockAbove)
        external
        onlySafe
    {
        if (window < BUCKETS || window > MAX_GRANT_DURATION) revert BadWindow(window);
        _caps[_activePolicy(agent)][token] =
            Cap({limit: limit, timelockAbove: timelockAbove, window: window, set: true});
        emit CapSet(agent, token, limit, window, timelockAbove);
    }

    function setGuardian(address guardian, bool enabled) external onlySafe {
        if (guardian == address(0)) revert ZeroAddress();
        isGuardian[guardian] = enabled;
        emit GuardianSet(guardian, enabled);
    }

    function setDelay(uint32 delay_) external onlySafe {
        if (delay_ > MAX_DELAY) revert DelayTooLong(delay_);
        delay = delay_;
        emit DelaySet(delay_);
    }

    /// @notice Stop every agent at once (owners or any guardian).
    function pause() external onlySafeOrGuardian {
        paused = true;
        emit PausedSet(true, msg.sender);
    }

    /// @notice Only the owners lift a pause: a guardian's key may stop agents, never restart them.
    function unpause() external onlySafe {
        paused = false;
        emit PausedSet(false, msg.sender);
    }

    /// @notice Revoke `agent`'s grant at once: by the owners, or by the agent itself.
    function revoke(address agent) external {
        if (msg.sender != address(safe) && msg.sender != agent) revert NotSafe(msg.sender);
        Grant storage g = grants[agent];
        if (!g.active) revert NotAgent(agent);
        bytes32 policyId = g.policyId;
        delete grants[agent];
        emit Revoked(agent, policyId, msg.sender);
    }

    /// @notice Veto a queued action (owners or any guardian).
    function veto(bytes32 actionId) external onlySafeOrGuardian {
        Queued storage q = queued[actionId];
        if (q.status != QueueStatus.Queued) revert NotQueued(actionId, q.status);
        q.status = QueueStatus.Vetoed;
        emit ActionVetoed(actionId, msg.sender);
    }

    // ---------------------------------------------------------------- the agent

    /// @notice Execute an action within the caller's policy at once.
    /// @param decisionId hash of the decision record that chose this action; usable once
    function execute(address to, uint256 value, bytes calldata data, bytes32 decisionId)
        external
        nonReentrant
        returns (bytes memory)
    {
        bytes32 policyId = _liveGrant(msg.sender);
        _useDecision(decisionId);
        return _run(msg.sender, policyId, to, value, data, decisionId, false);
    }

    /// @notice Queue an action (required above a cap's `timelockAbove`); it may execute after
    ///         `delay` and within GRACE_PERIOD unless vetoed. The scope is checked now and again
    ///         at execution; caps are counted at execution.
    function queue(address to, uint256 value, bytes calldata data, bytes32 decisionId)
        external
        returns (bytes32 actionId)
    {
        bytes32 policyId = _liveGrant(msg.sender);
        _useDecision(decisionId);
        _checkScope(policyId, to, value, data);
        actionId = actionIdOf(msg.sender, to, value, data, decisionId);
        uint64 eta = uint64(block.timestamp + delay);
        queued[actionId] = Queued({agent: msg.sender, policyId: policyId, eta: eta, status: QueueStatus.Queued});
        emit ActionQueued(actionId, msg.sender, decisionId, eta);
    }

    /// @notice Withdraw one of the caller's own queued actions: it can never execute. For an
    ///         agent whose reason to act is gone (the alert it acted on was retracted after a
    ///         reorg). Needs no live grant: withdrawing only gives power up.
    function withdraw(bytes32 actionId) external {
        Queued storage q = queued[actionId];
        if (q.status != QueueStatus.Queued) revert NotQueued(actionId, q.status);
        if (q.agent != msg.sender) revert NotAgent(msg.sender);
        q.status = QueueStatus.Withdrawn;
        emit ActionWithdrawn(actionId, msg.sender);
    }

    function executeQueued(address to, uint256 value, bytes calldata data, bytes32 decisionId)
        external
        nonReentrant
        returns (bytes memory)
    {
        bytes32 policyId = _liveGrant(msg.sender);
        bytes32 actionId = actionIdOf(msg.sender, to, value, data, decisionId);
        Queued storage q = queued[actionId];
        if (q.status != QueueStatus.Queued) revert NotQueued(actionId, q.status);
        if (q.policyId != policyId) revert PolicyChanged(actionId);
        if (block.timestamp < q.eta) revert TooEarly(actionId, q.eta);
        if (block.timestamp > q.eta + GRACE_PERIOD) revert QueueExpired(actionId, q.eta + GRACE_PERIOD);
        q.status = QueueStatus.Executed;
        return _run(msg.sender, policyId, to, value, data, decisionId, true);
    }

    // ---------------------------------------------------------------- views

    function actionIdOf(address agent, address to, uint256 value, bytes calldata data, bytes32 decisionId)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), agent, to, value, keccak256(data), decisionId));
    }

    function scopeOf(address agent, address target, bytes4 selector) external view returns (Scope memory) {
        return _scopes[grants[agent].policyId][target][selector];
    }

    function capOf(address agent, address token) external view returns (Cap memory) {
        return _caps[grants[agent].policyId][token];
    }

    /// @notice What `agent` has spent of `token` in the window that a spend now would be checked against.
    function spentInWindow(address agent, address token) external view returns (uint256) {
        bytes32 policyId = grants[agent].policyId;
        Cap memory cap = _caps[policyId][token];
        if (!cap.set) return 0;
        return _windowSum(_spends[policyId][token], _bucketIndex(cap.window));
    }

    // ---------------------------------------------------------------- internals

    function _checkExpiry(uint64 expiry) private view {
        if (expiry <= block.timestamp || expiry > block.timestamp + MAX_GRANT_DURATION) revert BadExpiry(expiry);
    }

    function _activePolicy(address agent) private view returns (bytes32) {
        Grant storage g = grants[agent];
        if (!g.active) revert NotAgent(agent);
        return g.policyId;
    }

    function _liveGrant(address agent) private view returns (bytes32) {
        if (paused) revert IsPaused();
        Grant storage g = grants[agent];
        if (!g.active) revert NotAgent(agent);
        if (block.timestamp >= g.expiry) revert GrantExpired(agent, g.expiry);
        return g.policyId;
    }

    function _useDecision(bytes32 decisionId) private {
        if (decisionUsed[decisionId]) revert DecisionAlreadyUsed(decisionId);
        decisionUsed[decisionId] = true;
    }

    function _selectorOf(bytes calldata data) private pure returns (bytes4) {
        if (data.length == 0) return bytes4(0);
        if (data.length < 4) revert CalldataTooShort(data.length, 4);
        return bytes4(data[:4]);
    }

    function _word(bytes calldata data, uint8 index) private pure returns (uint256) {
        uint256 start = 4 + 32 * uint256(index);
        if (data.length < start + 32) revert CalldataTooShort(data.length, start + 32);
        return uint256(bytes32(data[start:start + 32]));
    }

    /// @return scope the matching scope; amount the amount argument (0 if none)
    function _checkScope(bytes32 policyId, address to, uint256 value, bytes calldata data)
        private
        view
        returns (Scope memory scope, uint256 amount)
    {
        bytes4 selector = _selectorOf(data);
        scope = _scopes[policyId][to][selector];
        if (!scope.allowed) revert TargetNotAllowed(to, selector);
        if (selector == bytes4(0) && value > 0 && !recipientAllowed[policyId][to]) revert RecipientNotAllowed(to);
        if (scope.recipientArg != NO_ARG) {
            uint256 word = _word(data, scope.recipientArg);
            if (word >> 160 != 0) revert MalformedAddressArgument(scope.recipientArg);
            address recipient = address(uint160(word));
            if (!recipientAllowed[policyId][recipient]) revert RecipientNotAllowed(recipient);
        }
        if (scope.amountArg != NO_ARG) {
            amount = _word(data, scope.amountArg);
            if (scope.maxAmount != 0 && amount > scope.maxAmount) revert AmountAboveBound(amount, scope.maxAmount);
        }
    }

    /// @dev who acts, under which policy, and whether the timelock was passed
    struct Ctx {
        address agent;
        bytes32 policyId;
        bool fromQueue;
    }

    function _run(
        address agent,
        bytes32 policyId,
        address to,
        uint256 value,
        bytes calldata data,
        bytes32 decisionId,
        bool fromQueue
    ) private returns (bytes memory) {
        Ctx memory ctx = Ctx({agent: agent, policyId: policyId, fromQueue: fromQueue});
        (Scope memory scope, uint256 amount) = _checkScope(policyId, to, value, data);
        if (value > 0) _spend(ctx, address(0), value);
        emit ActionExecuted(agent, decisionId, to, value, _selectorOf(data));
        if (scope.amountArg == NO_ARG) return _call(to, value, data);
        if (scope.capToken == address(0)) {
            _spend(ctx, address(0), amount);
            return _call(to, value, data);
        }
        // an ERC-20: count the larger of the declared amount and the Safe's balance decrease
        IERC20 token = IERC20(scope.capToken);
        uint256 before = token.balanceOf(address(safe));
        bytes memory result = _call(to, value, data);
        uint256 afterBalance = token.balanceOf(address(safe));
        uint256 decrease = afterBalance < before ? before - afterBalance : 0;
        _spend(ctx, address(token), decrease > amount ? decrease : amount);
        return result;
    }

    function _call(address to, uint256 value, bytes calldata data) private returns (bytes memory) {
        (bool ok, bytes memory result) = safe.execTransactionFromModuleReturnData(to, value, data, 0);
        if (!ok) revert ActionFailed(result);
        return result;
    }

    function _spend(Ctx memory ctx, address token, uint256 amount) private {
        // slither-disable-next-line incorrect-equality (nothing moved: nothing to count)
        if (amount == 0) return;
        Cap memory cap = _caps[ctx.policyId][token];
        if (!cap.set) revert NoCapForToken(token);
        if (!ctx.fromQueue && amount > cap.timelockAbove) revert TimelockRequired(token, amount, cap.timelockAbove);
        Bucket[BUCKETS + 1] storage ring = _spends[ctx.policyId][token];
        uint256 current = _bucketIndex(cap.window);
        uint256 spent = _windowSum(ring, current);
        if (spent + amount > cap.limit) revert CapExceeded(token, spent, amount, cap.limit);
        // slither-disable-next-line weak-prng (a ring-buffer slot for the time bucket, not randomness)
        Bucket storage slot = ring[current % (BUCKETS + 1)];
        if (slot.index != current) {
            slot.index = uint64(current);
            slot.amount = 0;
        }
        // spent + amount <= limit < 2**128, so the bucket fits
        slot.amount += uint192(amount);
        emit Spent(ctx.agent, token, amount, spent + amount);
    }

    function _bucketIndex(uint32 window) private view returns (uint256) {
        uint256 length = (uint256(window) + BUCKETS - 1) / BUCKETS;
        return block.timestamp / length;
    }

    function _windowSum(Bucket[BUCKETS + 1] storage ring, uint256 current) private view returns (uint256 sum) {
        uint256 oldest = current >= BUCKETS ? current - BUCKETS : 0;
        for (uint256 i = 0; i <= BUCKETS; ++i) {
            Bucket memory b = ring[i];
            if (b.index >= oldest && b.index <= current) sum += b.amount;
        }
    }
}
