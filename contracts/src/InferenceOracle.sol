// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @notice An EZKL (Halo2) verifier as `ezkl.create_evm_verifier` writes it.
interface IZkVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
}

/// @notice What a contract implements to receive inference results.
interface IInferenceConsumer {
    function onInference(uint256 requestId, int256[] calldata output) external;
}

/// @title InferenceOracle
/// @notice Serves model inferences to contracts. A consumer calls `requestInference` with the
///         model's fee; an oracle node answers; the oracle calls the consumer back with
///         `onInference(requestId, output)`. Inputs and outputs are fixed-point integers at the
///         scales of the model's circuit (value = integer / 2^scale).
///
///         Each model has one mode:
///         - `Zk`: the answer comes with an EZKL proof, checked by the model's verifier against
///           public inputs built from the request's input and the claimed output.
///         - `Optimistic`: a node proposes the answer and locks the model's bond; during the
///           challenge window anyone may dispute it — with a valid proof of a different output
///           when the model has a verifier, or otherwise by posting an equal bond and letting the
///           model's committee re-execute (a quorum of equal votes decides). The loser's bond goes
///           to the winner; an unchallenged answer finalizes after the window.
///
///         Requests not answered by their deadline are refunded. Money moves by pull payments
///         (`withdraw`). Only hashes of inputs and outputs are stored; the full values travel in
///         calldata and events, and anyone can check them against the stored commitments.
contract InferenceOracle is ReentrancyGuard {
    enum Mode {
        None,
        Zk,
        Optimistic
    }

    enum Status {
        None,
        Pending,
        Proposed,
        Disputed,
        Fulfilled,
        Refunded
    }

    struct ModelConfig {
        address verifier; // EZKL verifier; zero for an optimistic model without a circuit
        Mode mode;
        uint16 inputLength;
        uint16 outputLength;
        uint8 valueBits; // every input and output value v must satisfy |v| < 2^valueBits
        uint64 fee; // wei per request
        uint96 bond; // wei a proposer (and a committee challenger) locks
        uint32 challengeWindow; // blocks
        uint32 timeout; // blocks a request may stay unanswered before it can be refunded
        uint8 quorum; // committee votes that settle a dispute (models without a verifier)
        address[] committee;
    }

    struct Model {
        address owner;
        address verifier;
        Mode mode;
        uint16 inputLength;
        uint16 outputLength;
        uint8 valueBits;
        uint8 quorum;
        bool active;
        uint64 fee;
        uint96 bond;
        uint32 challengeWindow;
        uint32 timeout;
    }

    struct Request {
        address requester;
        uint32 callbackGasLimit;
        uint32 deadline; // last block at which it may be answered
        Status status;
        bytes32 modelId;
        bytes32 inputHash; // keccak256(abi.encode(input))
        bytes32 outputHash; // keccak256(abi.encode(output)) once answered
        address node; // the proposer (optimistic) or prover (zk)
        uint32 challengeEnds; // last block of the challenge window
        uint64 fee;
    }

    /// @dev keccak256(abi.encode(requestId, sender, keccak256(proof))), truncated, and the block
    ///      it was made in: one slot
    struct Commitment {
        bytes28 hash;
        uint32 blockNumber;
    }

    struct Dispute {
        address challenger;
        uint32 votingEnds;
        uint8 votesForProposal;
    }

    /// @dev BN254 scalar field: EZKL encodes a negative fixed-point value v as R + v.
    uint256 internal constant FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint32 public constant MAX_CALLBACK_GAS = 2_000_000;
    /// @dev gas kept back beyond the consumer's limit (and its 1/64): the CALL itself and the
    ///      oracle's own work after it (copying at most 256 bytes of reason, `CallbackDone`)
    uint256 internal constant CALLBACK_RESERVE = 10_000;

    mapping(bytes32 modelId => Model) public models;
    mapping(bytes32 modelId => mapping(address member => bool)) public isCommitteeMember;
    mapping(bytes32 modelId => address[]) internal committees;
    mapping(uint256 requestId => Request) public requests;
    mapping(uint256 requestId => Dispute) public disputes;
    /// @notice Commitments to a proof not yet revealed, per request and sender.
    mapping(uint256 requestId => mapping(address sender => Commitment)) public commitments;
    mapping(uint256 requestId => mapping(address member => bool)) public hasVoted;
    mapping(uint256 requestId => mapping(bytes32 outputHash => uint256)) public votes;
    /// @notice Withdrawable wei per account (fees earned, bonds returned or won, refunds, deposits).
    mapping(address account => uint256) public balanceOf;
    /// @notice Bonds locked in open proposals and disputes.
    uint256 public lockedBonds;
    uint256 public requestCount;

    event ModelRegistered(
        bytes32 indexed modelId, address indexed owner, bytes32 indexed key, address verifier, Mode mode
    );
    event ModelUpdated(bytes32 indexed modelId, uint64 fee, bool active);
    event InferenceRequested(
        uint256 indexed requestId,
        bytes32 indexed modelId,
        address indexed requester,
        int256[] input,
        uint256 fee,
        uint32 callbackGasLimit,
        uint32 deadline
    );
    event InferenceProposed(uint256 indexed requestId, address indexed node, int256[] output, uint32 challengeEnds);
    event InferenceFulfilled(uint256 indexed requestId, address indexed node, bytes32 outputHash, int256[] output);
    /// @notice A batched `propose` or `finalize` left out a request that is no longer open to
    ///         it (answered by someone else first, finalized, expired).
    event AnswerSkipped(uint256 indexed requestId, Status status);
    event CallbackDone(uint256 indexed requestId, bool success, bytes reason);
    event Committed(uint256 indexed requestId, address indexed sender);
    event ProposalChallenged(uint256 indexed requestId, address indexed challenger, bool byProof);
    event DisputeVote(uint256 indexed requestId, address indexed member, bytes32 outputHash);
    event DisputeSettled(uint256 indexed requestId, address indexed winner, bool proposalUpheld);
    event Refunded(uint256 indexed requestId, address indexed requester, uint256 amount);
    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error UnknownModel(bytes32 modelId);
    error ModelExists(bytes32 modelId);
    error ModelInactive(bytes32 modelId);
    error NotModelOwner(bytes32 modelId, address caller);
    error BadModelConfig(string reason);
    error InputShape(uint256 expected, uint256 got);
    error OutputShape(uint256 expected, uint256 got);
    error ValueOutOfRange(uint256 index, int256 value, uint8 valueBits);
    error FeeTooLow(uint256 required, uint256 sent);
    error FeeTooHigh(uint256 sent);
    error CallbackGasTooHigh(uint32 requested, uint32 max);
    error UnknownRequest(uint256 requestId);
    error WrongStatus(uint256 requestId, Status status);
    error WrongMode(bytes32 modelId, Mode mode);
    error InputMismatch(uint256 requestId);
    error OutputMismatch(uint256 requestId);
    error InvalidProof(uint256 requestId);
    error NoVerifier(bytes32 modelId);
    error SameOutput(uint256 requestId);
    error RequestExpired(uint256 requestId, uint32 deadline);
    error NotExpired(uint256 requestId, uint32 deadline);
    error ChallengeWindowClosed(uint256 requestId, uint32 challengeEnds);
    error ChallengeWindowOpen(uint256 requestId, uint32 challengeEnds);
    error InsufficientBalance(address account, uint256 needed, uint256 available);
    error NotCommitteeMember(bytes32 modelId, address caller);
    error AlreadyVoted(uint256 requestId, address member);
    error VotingOpen(uint256 requestId, uint32 votingEnds);
    error VotingClosed(uint256 requestId, uint32 votingEnds);
    error InsufficientCallbackGas(uint256 requestId);
    error NotCommitted(uint256 requestId, address sender);
    error RevealTooEarly(uint256 requestId, uint32 committedAt);
    error ProposerCannotChallenge(uint256 requestId);
    error LengthMismatch();
    error TransferFailed();
    error BlockNumberTooLarge(uint256 blockNumber);

    // ---------------------------------------------------------------- models

    /// @notice Register a model under `key` (e.g. its package digest and mode) with its verifier
    ///         and terms. Its id is `modelIdOf(msg.sender, key)`: ids live in the registrant's
    ///         namespace, so nobody can take the id a node expects from another owner. The
    ///         verifier and mode of a model never change: a new circuit is a new model.
    // slither-disable-next-line cyclomatic-complexity (one check per field of the configuration, each with its own named error; splitting them hides the list)
    function registerModel(bytes32 key, ModelConfig calldata cfg) external returns (bytes32 modelId) {
        modelId = modelIdOf(msg.sender, key);
        if (models[modelId].owner != address(0)) revert ModelExists(modelId);
        if (cfg.mode == Mode.None) revert BadModelConfig("mode must be Zk or Optimistic");
        if (cfg.mode == Mode.Zk && cfg.verifier == address(0)) revert BadModelConfig("zk mode needs a verifier");
        if (cfg.verifier != address(0) && cfg.verifier.code.length == 0) {
            revert BadModelConfig("verifier has no code");
        }
        if (cfg.inputLength == 0 || cfg.outputLength == 0) revert BadModelConfig("empty input or output");
        if (cfg.valueBits == 0 || cfg.valueBits > 120) revert BadModelConfig("valueBits must be 1..120");
        if (cfg.timeout == 0) revert BadModelConfig("timeout must be positive");
        if (cfg.mode == Mode.Optimistic) {
            if (cfg.bond == 0) revert BadModelConfig("optimistic mode needs a bond");
            // a challenger commits in one block of the window and reveals in a later one
            if (cfg.challengeWindow < 2) revert BadModelConfig("optimistic mode needs a challenge window of 2+ blocks");
            if (cfg.verifier == address(0)) {
                if (cfg.quorum == 0 || cfg.quorum > cfg.committee.length) {
                    revert BadModelConfig("a model without a verifier needs a committee and 0 < quorum <= its size");
                }
                if (2 * uint256(cfg.quorum) <= cfg.committee.length) {
                    revert BadModelConfig("quorum must be a majority of the committee");
                }
            }
        }
        models[modelId] = Model({
            owner: msg.sender,
            verifier: cfg.verifier,
            mode: cfg.mode,
            inputLength: cfg.inputLength,
            outputLength: cfg.outputLength,
            valueBits: cfg.valueBits,
            quorum: cfg.quorum,
            active: true,
            fee: cfg.fee,
            bond: cfg.bond,
            challengeWindow: cfg.challengeWindow,
            timeout: cfg.timeout
        });
        for (uint256 i = 0; i < cfg.committee.length; i++) {
            address member = cfg.committee[i];
            if (isCommitteeMember[modelId][member]) revert BadModelConfig("the committee names a member twice");
            isCommitteeMember[modelId][member] = true;
        }
        committees[modelId] = cfg.committee;
        emit ModelRegistered(modelId, msg.sender, key, cfg.verifier, cfg.mode);
    }

    /// @notice The model's owner changes its fee or pauses new requests.
    function updateModel(bytes32 modelId, uint64 fee, bool active) external {
        Model storage m = _model(modelId);
        if (msg.sender != m.owner) revert NotModelOwner(modelId, msg.sender);
        m.fee = fee;
        m.active = active;
        emit ModelUpdated(modelId, fee, active);
    }

    // ---------------------------------------------------------------- requests

    /// @notice Ask for `model(input)`; the answer arrives as `onInference` on the caller (when it
    ///         is a contract) with at most `callbackGasLimit` gas. Pay at least the model's fee.
    function requestInference(bytes32 modelId, int256[] calldata input, uint32 callbackGasLimit)
        external
        payable
        nonReentrant
        returns (uint256 requestId)
    {
        Model storage m = _model(modelId);
        if (!m.active) revert ModelInactive(modelId);
        if (input.length != m.inputLength) revert InputShape(m.inputLength, input.length);
        _checkRange(input, m.valueBits);
        if (msg.value < m.fee) revert FeeTooLow(m.fee, msg.value);
        if (msg.value > type(uint64).max) revert FeeTooHigh(msg.value);
        if (callbackGasLimit > MAX_CALLBACK_GAS) revert CallbackGasTooHigh(callbackGasLimit, MAX_CALLBACK_GAS);
        requestId = ++requestCount;
        uint32 deadline = _blockNumber() + m.timeout;
        requests[requestId] = Request({
            requester: msg.sender,
            callbackGasLimit: callbackGasLimit,
            deadline: deadline,
            status: Status.Pending,
            modelId: modelId,
            inputHash: keccak256(abi.encode(input)),
            outputHash: bytes32(0),
            node: address(0),
            challengeEnds: 0,
            fee: uint64(msg.value)
        });
        emit InferenceRequested(requestId, modelId, msg.sender, input, msg.value, callbackGasLimit, deadline);
    }

    /// @notice Answer a zk-mode request with an EZKL proof whose public inputs are the request's
    ///         input followed by `output`, committed to (`commit`) by the caller in an earlier
    ///         block. The fee goes to the caller. The proof's public inputs do not name the
    ///         prover, so without the commitment anyone could send a copy of it first.
    // slither-disable-next-line reentrancy-benign (the only external call is the model's verifier, fixed at registration; the function is nonReentrant and the request is no longer pending once it returns)
    function fulfill(uint256 requestId, int256[] calldata input, int256[] calldata output, bytes calldata proof)
        external
        nonReentrant
    {
        Request storage r = _pending(requestId);
        Model storage m = models[r.modelId];
        if (m.mode != Mode.Zk) revert WrongMode(r.modelId, m.mode);
        _reveal(requestId, proof);
        _checkProof(requestId, r, m, input, output, proof);
        r.status = Status.Fulfilled;
        r.outputHash = keccak256(abi.encode(output));
        r.node = msg.sender;
        balanceOf[msg.sender] += r.fee;
        emit InferenceFulfilled(requestId, msg.sender, r.outputHash, output);
        _callback(requestId, r, output);
    }

    /// @notice Propose answers to optimistic-mode requests, locking each model's bond from the
    ///         caller's balance (`deposit` first). A request that is no longer pending (another
    ///         node answered first, or it expired) is skipped with `AnswerSkipped`, so one copied
    ///         answer cannot revert a whole batch.
    function propose(uint256[] calldata requestIds, int256[][] calldata outputs) external nonReentrant {
        if (requestIds.length != outputs.length) revert LengthMismatch();
        uint256 locked = 0;
        for (uint256 i = 0; i < requestIds.length; i++) {
            uint256 requestId = requestIds[i];
            Request storage r = _request(requestId);
            if (r.status != Status.Pending || block.number > r.deadline) {
                emit AnswerSkipped(requestId, r.status);
                continue;
            }
            Model storage m = models[r.modelId];
            if (m.mode != Mode.Optimistic) revert WrongMode(r.modelId, m.mode);
            int256[] calldata output = outputs[i];
            if (output.length != m.outputLength) revert OutputShape(m.outputLength, output.length);
            _checkRange(output, m.valueBits);
            uint32 ends = _blockNumber() + m.challengeWindow;
            r.status = Status.Proposed;
            r.outputHash = keccak256(abi.encode(output));
            r.node = msg.sender;
            r.challengeEnds = ends;
            locked += m.bond;
            emit InferenceProposed(requestId, msg.sender, output, ends);
        }
        _lock(msg.sender, locked);
    }

    /// @notice After the challenge window, settle unchallenged proposals: the proposer gets its
    ///         bond back and the fee; the consumer is called back. Anyone may call this; a request
    ///         no longer proposed (finalized by someone else first, challenged) is skipped.
    function finalize(uint256[] calldata requestIds, int256[][] calldata outputs) external nonReentrant {
        if (requestIds.length != outputs.length) revert LengthMismatch();
        for (uint256 i = 0; i < requestIds.length; i++) {
            uint256 requestId = requestIds[i];
            Request storage r = _request(requestId);
            if (r.status != Status.Proposed) {
                emit AnswerSkipped(requestId, r.status);
                continue;
            }
            if (block.number <= r.challengeEnds) revert ChallengeWindowOpen(requestId, r.challengeEnds);
            int256[] calldata output = outputs[i];
            if (keccak256(abi.encode(output)) != r.outputHash) revert OutputMismatch(requestId);
            uint256 bond = models[r.modelId].bond;
            r.status = Status.Fulfilled;
// slither-disable-next-line costly-loop (one warm SSTORE per finalized request of a batch that pays a ~25k-gas callback each; a local sum would save ~100 gas per request at the cost of clarity)
            lockedBonds -= bond;
            balanceOf[r.node] += bond + r.fee;
            emit InferenceFulfilled(requestId, r.node, r.outputHash, output);
            _callback(requestId, r, output);
        }
    }

    /// @notice Commit to a proof before sending it, so that nobody who sees it in the mempool can
    ///         send it as their own: `commitment` is `keccak256(abi.encode(requestId, msg.sender,
    ///         keccak256(proof)))`. Reveal it (`fulfill` of a pending zk request, `challenge` of a
    ///         proposal) in a later block. A challenge is committed before the last block of the
    ///         challenge window, an answer before the request's deadline.
    function commit(uint256 requestId, bytes32 commitment) external {
        Request storage r = _request(requestId);
        if (r.status == Status.Proposed) {
            if (block.number >= r.challengeEnds) revert ChallengeWindowClosed(requestId, r.challengeEnds);
        } else if (r.status == Status.Pending) {
            if (block.number >= r.deadline) revert RequestExpired(requestId, r.deadline);
        } else {
            revert WrongStatus(requestId, r.status);
        }
        commitments[requestId][msg.sender] = Commitment(bytes28(commitment), _blockNumber());
        emit Committed(requestId, msg.sender);
    }

    /// @notice Dispute a proposal with a valid proof of a different output, committed to
    ///         (`commit`) in an earlier block by the caller, who may not be the proposer. The
    ///         consumer receives the proved output; the caller gets the fee and half of the
    ///         proposer's bond, the requester the other half — so a proposer that challenges its
    ///         own wrong answer through another address still loses half its bond.
    // slither-disable-next-line reentrancy-benign (the only external call before the writes is the model's verifier, fixed at registration; the function is nonReentrant)
    function challenge(uint256 requestId, int256[] calldata input, int256[] calldata output, bytes calldata proof)
        external
        nonReentrant
    {
        Request storage r = _request(requestId);
        Model storage m = models[r.modelId];
        _checkChallengeable(requestId, r);
        if (m.verifier == address(0)) revert NoVerifier(r.modelId);
        if (msg.sender == r.node) revert ProposerCannotChallenge(requestId);
        _reveal(requestId, proof);
        bytes32 outputHash = keccak256(abi.encode(output));
        if (outputHash == r.outputHash) revert SameOutput(requestId);
        _checkProof(requestId, r, m, input, output, proof);
        r.status = Status.Fulfilled;
        r.outputHash = outputHash;
        uint256 bond = m.bond;
        lockedBonds -= bond;
        balanceOf[msg.sender] += bond - bond / 2 + r.fee;
        balanceOf[r.requester] += bond / 2;
        emit ProposalChallenged(requestId, msg.sender, true);
        emit DisputeSettled(requestId, msg.sender, false);
        emit InferenceFulfilled(requestId, msg.sender, outputHash, output);
        _callback(requestId, r, output);
    }

    /// @notice Dispute a proposal of a model without a verifier: lock a bond equal to the
    ///         proposer's; the model's committee re-executes and votes within one challenge window.
    ///         The first dispute stands (it is the disputer's commitment: it locks a bond); the
    ///         proposer may not dispute its own answer, and should it do so through another
    ///         address, it still loses half its bond to the requester (see `vote`).
    function dispute(uint256 requestId) external nonReentrant {
        Request storage r = _request(requestId);
        Model storage m = models[r.modelId];
        _checkChallengeable(requestId, r);
        if (m.verifier != address(0)) revert BadModelConfig("this model's disputes are settled by proof: call challenge");
        if (msg.sender == r.node) revert ProposerCannotChallenge(requestId);
        _lock(msg.sender, m.bond);
        r.status = Status.Disputed;
        disputes[requestId] = Dispute(msg.sender, _blockNumber() + m.challengeWindow, 0);
        emit ProposalChallenged(requestId, msg.sender, false);
    }

    /// @notice A committee member's re-execution result for a disputed request. The first
    ///         output to reach the model's quorum settles it; the consumer receives it. An upheld
    ///         proposer gets both bonds and the fee; an overturned proposal pays the disputer its
    ///         bond back, the fee and half the proposer's bond, and the requester the other half.
    function vote(uint256 requestId, int256[] calldata output) external nonReentrant {
        Request storage r = _request(requestId);
        if (r.status != Status.Disputed) revert WrongStatus(requestId, r.status);
        Model storage m = models[r.modelId];
        if (!isCommitteeMember[r.modelId][msg.sender]) revert NotCommitteeMember(r.modelId, msg.sender);
        Dispute storage d = disputes[requestId];
        if (block.number > d.votingEnds) revert VotingClosed(requestId, d.votingEnds);
        if (hasVoted[requestId][msg.sender]) revert AlreadyVoted(requestId, msg.sender);
        if (output.length != m.outputLength) revert OutputShape(m.outputLength, output.length);
        _checkRange(output, m.valueBits);
        hasVoted[requestId][msg.sender] = true;
        bytes32 outputHash = keccak256(abi.encode(output));
        uint256 count = ++votes[requestId][outputHash];
        emit DisputeVote(requestId, msg.sender, outputHash);
        if (count < m.quorum) return;
        bool upheld = outputHash == r.outputHash;
        address winner = upheld ? r.node : d.challenger;
        r.status = Status.Fulfilled;
        r.outputHash = outputHash;
        uint256 bond = m.bond;
        lockedBonds -= 2 * bond;
        if (upheld) {
            balanceOf[winner] += 2 * bond + r.fee;
        } else {
            balanceOf[winner] += 2 * bond - bond / 2 + r.fee;
            balanceOf[r.requester] += bond / 2;
        }
        emit DisputeSettled(requestId, winner, upheld);
        emit InferenceFulfilled(requestId, winner, outputHash, output);
        _callback(requestId, r, output);
    }

    /// @notice A dispute whose committee reached no quorum in time: both bonds are returned and
    ///         the requester is refunded.
    function abandonDispute(uint256 requestId) external nonReentrant {
        Request storage r = _request(requestId);
        if (r.status != Status.Disputed) revert WrongStatus(requestId, r.status);
        Dispute storage d = disputes[requestId];
        if (block.number <= d.votingEnds) revert VotingOpen(requestId, d.votingEnds);
        uint256 bond = models[r.modelId].bond;
        r.status = Status.Refunded;
        lockedBonds -= 2 * bond;
        balanceOf[r.node] += bond;
        balanceOf[d.challenger] += bond;
        balanceOf[r.requester] += r.fee;
        emit Refunded(requestId, r.requester, r.fee);
    }

    /// @notice A request nobody answered by its deadline: the fee goes back to the requester.
    function refund(uint256 requestId) external nonReentrant {
        Request storage r = _request(requestId);
        if (r.status != Status.Pending) revert WrongStatus(requestId, r.status);
        if (block.number <= r.deadline) revert NotExpired(requestId, r.deadline);
        r.status = Status.Refunded;
        balanceOf[r.requester] += r.fee;
        emit Refunded(requestId, r.requester, r.fee);
    }

    // ---------------------------------------------------------------- money

    /// @notice Add to the caller's balance (nodes keep their bonds here).
    function deposit() external payable {
        balanceOf[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Send `amount` of the caller's balance to the caller.
    function withdraw(uint256 amount) external nonReentrant {
        _withdraw(payable(msg.sender), amount);
    }

    /// @notice Send `amount` of the caller's balance to `to` (a consumer contract that cannot
    ///         receive ether, or that passes a refund on to whoever paid it).
    function withdrawTo(address payable to, uint256 amount) external nonReentrant {
        _withdraw(to, amount);
    }

    // ---------------------------------------------------------------- views

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _request(requestId);
    }

    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _model(modelId);
    }

    /// @notice The committee that settles the disputes of a model without a verifier.
    function committeeOf(bytes32 modelId) external view returns (address[] memory) {
        return committees[modelId];
    }

    /// @notice The id of the model `owner` registered under `key`.
    function modelIdOf(address owner, bytes32 key) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, key));
    }

    /// @notice The public inputs of a proof for `input` → `output` (as the verifier sees them).
    function instancesOf(int256[] calldata input, int256[] calldata output) public pure returns (uint256[] memory out) {
        out = new uint256[](input.length + output.length);
        for (uint256 i = 0; i < input.length; i++) {
            out[i] = _felt(input[i]);
        }
        for (uint256 i = 0; i < output.length; i++) {
            out[input.length + i] = _felt(output[i]);
        }
    }

    // ---------------------------------------------------------------- internals

    function _model(bytes32 modelId) private view returns (Model storage m) {
        m = models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
    }

    function _request(uint256 requestId) private view returns (Request storage r) {
        r = requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
    }

    function _pending(uint256 requestId) private view returns (Request storage r) {
        r = _request(requestId);
        if (r.status != Status.Pending) revert WrongStatus(requestId, r.status);
        if (block.number > r.deadline) revert RequestExpired(requestId, r.deadline);
    }

    function _checkChallengeable(uint256 requestId, Request storage r) private view {
        if (r.status != Status.Proposed) revert WrongStatus(requestId, r.status);
        if (block.number > r.challengeEnds) revert ChallengeWindowClosed(requestId, r.challengeEnds);
    }

    /// @dev The caller committed to `proof` for this request in an earlier block; the
    ///      commitment is used up.
    function _reveal(uint256 requestId, bytes calldata proof) private {
        Commitment memory c = commitments[requestId][msg.sender];
        bytes32 expected = keccak256(abi.encode(requestId, msg.sender, keccak256(proof)));
        if (c.blockNumber == 0 || c.hash != bytes28(expected)) revert NotCommitted(requestId, msg.sender);
        if (block.number <= c.blockNumber) revert RevealTooEarly(requestId, c.blockNumber);
        delete commitments[requestId][msg.sender];
    }

    /// @dev Block numbers are stored in 32 bits (one storage slot per request part). That
    ///      lasts 4.29e9 blocks: ~1,600 years at 12 s a block, ~34 years at 250 ms. Past it the
    ///      oracle refuses new requests, proposals and disputes instead of wrapping deadlines
    ///      (and a deadline or window that would pass 2^32 reverts by checked arithmetic).
    function _blockNumber() private view returns (uint32) {
        if (block.number > type(uint32).max) revert BlockNumberTooLarge(block.number);
        return uint32(block.number);
    }

    function _withdraw(address payable to, uint256 amount) private {
        uint256 available = balanceOf[msg.sender];
        if (amount > available) revert InsufficientBalance(msg.sender, amount, available);
        balanceOf[msg.sender] = available - amount;
        emit Withdrawn(msg.sender, amount);
        // slither-disable-next-line low-level-calls (pull payment to any address, contracts included; the balance is debited first and a failure reverts)
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _checkRange(int256[] calldata values, uint8 bits) private pure {
        int256 limit = int256(1) << bits;
        for (uint256 i = 0; i < values.length; i++) {
            int256 v = values[i];
            if (v >= limit || v <= -limit) revert ValueOutOfRange(i, v, bits);
        }
    }

    function _checkProof(
        uint256 requestId,
        Request storage r,
        Model storage m,
        int256[] calldata input,
        int256[] calldata output,
        bytes calldata proof
    ) private {
        if (keccak256(abi.encode(input)) != r.inputHash) revert InputMismatch(requestId);
        if (output.length != m.outputLength) revert OutputShape(m.outputLength, output.length);
        _checkRange(output, m.valueBits);
        uint256[] memory instances = instancesOf(input, output);
        try IZkVerifier(m.verifier).verifyProof(proof, instances) returns (bool ok) {
            if (!ok) revert InvalidProof(requestId);
        } catch {
            revert InvalidProof(requestId);
        }
    }

    function _lock(address account, uint256 amount) private {
        uint256 available = balanceOf[account];
        if (amount > available) revert InsufficientBalance(account, amount, available);
        balanceOf[account] = available - amount;
        lockedBonds += amount;
    }

    /// @dev Calls the consumer with at most its gas limit; a revert or a gas-burning callback is
    ///      recorded in `CallbackDone` and never undoes the fulfilment. Return data is not copied
    ///      beyond 256 bytes, so a consumer cannot make the oracle pay for a huge revert reason.
    // slither-disable-next-line assembly (the CALL must not copy return data, so a consumer cannot make the oracle pay for a huge revert reason; Solidity's call copies it all)
    function _callback(uint256 requestId, Request storage r, int256[] calldata output) private {
        address consumer = r.requester;
        if (consumer.code.length == 0) return; // an account without code reads the events
        uint256 gasLimit = r.callbackGasLimit;
        // encode (and allocate) first: their cost grows with the output, and must not come out
        // of the consumer's share after the check
        bytes memory data = abi.encodeCall(IInferenceConsumer.onInference, (requestId, output));
        bool success;
        bytes memory reason = new bytes(0);
        // EIP-150 passes at most 63/64 of the remaining gas: make sure the consumer gets all of
        // its limit, so a node cannot make a callback fail by sending too little gas. Nothing
        // but the CALL runs between this check and the call.
        if (gasleft() < gasLimit + gasLimit / 63 + CALLBACK_RESERVE) revert InsufficientCallbackGas(requestId);
        assembly ("memory-safe") {
            success := call(gasLimit, consumer, 0, add(data, 0x20), mload(data), 0, 0)
        }
        if (!success) {
            uint256 size;
            assembly ("memory-safe") {
                size := returndatasize()
            }
            if (size > 256) size = 256;
            reason = new bytes(size);
            assembly ("memory-safe") {
                returndatacopy(add(reason, 0x20), 0, size)
            }
        }
        emit CallbackDone(requestId, success, reason);
    }

    function _felt(int256 v) private pure returns (uint256) {
        return v >= 0 ? uint256(v) : FIELD - uint256(-v);
    }
}
