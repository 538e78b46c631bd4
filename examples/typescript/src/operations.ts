// The operations this client sends. graphql() returns each as a typed
// string: its result and variables types come from src/gql (run
// `npm run codegen` after changing anything here).
import { graphql } from './gql/index.js';

export const SessionFields = graphql(`
  fragment Session on AuthPayload {
    accessToken
    refreshToken
    expiresIn
    mfaRequired
    user {
      id
      email
      permissions
      mfaEnabled
    }
  }
`);

export const Signup = graphql(`
  mutation Signup($input: SignupInput!) {
    signup(input: $input) {
      ...Session
    }
  }
`);

export const Signin = graphql(`
  mutation Signin($email: String!, $password: String!) {
    signin(email: $email, password: $password) {
      ...Session
    }
  }
`);

export const Refresh = graphql(`
  mutation Refresh($refreshToken: String!) {
    refresh(refreshToken: $refreshToken) {
      ...Session
    }
  }
`);

export const Signout = graphql(`
  mutation Signout($allSessions: Boolean) {
    signout(allSessions: $allSessions)
  }
`);

export const Me = graphql(`
  query Me {
    me {
      id
      email
      firstName
      lastName
      permissions
    }
  }
`);

export const Books = graphql(`
  query Books($first: Int!, $after: String) {
    books(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          title
          author
          publishedYear
          createdAt
        }
      }
    }
  }
`);

export const EnrollTotp = graphql(`
  mutation EnrollTotp($currentPassword: String!) {
    enrollTotp(currentPassword: $currentPassword) {
      secret
      uri
      qrCodeSvg
    }
  }
`);

export const ConfirmTotp = graphql(`
  mutation ConfirmTotp($code: String!) {
    confirmTotp(code: $code)
  }
`);

export const VerifySecondFactor = graphql(`
  mutation VerifySecondFactor($code: String!) {
    verifySecondFactor(code: $code) {
      ...Session
    }
  }
`);

export const SecondFactors = graphql(`
  query SecondFactors {
    me {
      secondFactors {
        totp
        recoveryCodesLeft
      }
    }
  }
`);
